"""Datasets the library makes itself or reads from installed packages."""

from sklearn_suite.datasets._images import load_digit_images, read_mnist_5k
from sklearn_suite.datasets._shapes import make_orientation_shapes

__all__ = ["load_digit_images", "make_orientation_shapes", "read_mnist_5k"]
