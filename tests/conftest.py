import pytest
import torch

from sklearn_suite.datasets import load_digit_images


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` need CUDA: skipped, with the reason, where there is none
    (``bash dev.sh gpu`` runs exactly these on a GPU machine)."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (bash dev.sh gpu runs it)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def digits16():
    """scikit-learn's digits as 16x16 single-channel images."""
    return load_digit_images(size=16, return_X_y=True)
