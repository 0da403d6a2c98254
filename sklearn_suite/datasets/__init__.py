"""Datasets the library makes itself or reads from installed packages."""

from sklearn_suite.datasets._images import load_digit_images, read_mnist_5k

__all__ = ["load_digit_images", "read_mnist_5k"]
