import pytest

from sklearn_suite.datasets import load_digit_images


@pytest.fixture(scope="session")
def digits16():
    """scikit-learn's digits as 16x16 single-channel images."""
    return load_digit_images(size=16, return_X_y=True)
