"""Seeding (``random_state`` to a torch seed without touching the caller's global
RNG), device handling and image input validation."""

import contextlib
import math
import numbers
import warnings

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, validate_data

__all__ = [
    "INFERENCE_DTYPES",
    "InputRangeWarning",
    "check_device",
    "check_images",
    "check_seed",
    "inference_autocast",
    "native_bfloat16",
    "torch_seeded",
]


def check_seed(random_state):
    """Turn ``random_state`` into an int seed for torch.

    Parameters
    ----------
    random_state : None, int or numpy.random.RandomState
        As in scikit-learn. An int always gives the same seed; None draws a fresh one.

    Returns
    -------
    seed : int
        A seed in ``[0, 2**31 - 1)``.
    """
    rng = check_random_state(random_state)
    return int(rng.randint(np.iinfo(np.int32).max))


@contextlib.contextmanager
def torch_seeded(seed, device="cpu"):
    """Seed torch inside the block and restore the caller's RNG state afterwards.

    Parameters
    ----------
    seed : int
        Seed for ``torch.manual_seed``.
    device : str or torch.device, default="cpu"
        When a CUDA device, its RNG state is forked too.
    """
    device = torch.device(device)
    devices = []
    if device.type == "cuda":
        devices = [device.index if device.index is not None else 0]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def check_device(device):
    """Validate a ``device`` argument and return it as a string.

    Parameters
    ----------
    device : str or torch.device
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Returns
    -------
    device : str

    Raises
    ------
    ValueError
        When the string is not a device, or CUDA is asked for but not available.
    """
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be 'cpu', 'cuda' or 'cuda:N'; got {device!r}."
        ) from exc
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this "
            "machine; use device='cpu'."
        )
    if parsed.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda'; got {device!r}.")
    return str(parsed)


# the values of a ``predict_dtype`` parameter (see :func:`inference_autocast`)
INFERENCE_DTYPES = ("auto", "float32", "bfloat16")


def native_bfloat16(device):
    """Whether ``device`` computes bfloat16 matrix products in hardware.

    Parameters
    ----------
    device : str or torch.device

    Returns
    -------
    native : bool
        True for a CUDA GPU of compute capability 8 or more (Ampere on; older
        ones only emulate bfloat16) and for a CPU with AVX512-BF16 or AMX.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return (
            torch.cuda.is_available()
            and torch.cuda.get_device_capability(device)[0] >= 8
        )
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)


def inference_autocast(device, dtype="auto"):
    """The autocast context of a prediction pass.

    Parameters
    ----------
    device : str or torch.device
    dtype : {"auto", "float32", "bfloat16"}, default="auto"
        ``"bfloat16"``: matrix products and recurrent layers in bfloat16
        (``torch.autocast``); ``"float32"``: no autocast; ``"auto"``: bfloat16
        where :func:`native_bfloat16` says the hardware computes it natively,
        float32 elsewhere.

    Returns
    -------
    context : torch.autocast
    """
    if dtype not in INFERENCE_DTYPES:
        raise ValueError(
            "The inference dtype must be 'auto', 'float32' or 'bfloat16'; "
            f"got {dtype!r}."
        )
    if dtype == "auto":
        dtype = "bfloat16" if native_bfloat16(device) else "float32"
    return torch.autocast(
        torch.device(device).type,
        dtype=torch.bfloat16,
        enabled=dtype == "bfloat16",
    )


def _check_image_shape(image_shape):
    shape = tuple(image_shape) if isinstance(image_shape, (tuple, list)) else None
    if (
        shape is None
        or len(shape) != 3
        or not all(
            isinstance(s, numbers.Integral) and (s > 0 or s == -1) for s in shape
        )
        or sum(s == -1 for s in shape) > 1
    ):
        raise ValueError(
            "image_shape must be a tuple of three positive ints (C, H, W), one of "
            f"which may be -1 (inferred, as in numpy.reshape); got {image_shape!r}."
        )
    return tuple(int(s) for s in shape)


def _resolve_image_shape(image_shape, n_features):
    if image_shape is None:
        return _square_shape(n_features)
    known = math.prod(s for s in image_shape if s != -1)
    if -1 in image_shape and n_features % known == 0:
        image_shape = tuple(n_features // known if s == -1 else s for s in image_shape)
    if math.prod(image_shape) != n_features:
        raise ValueError(
            f"X has {n_features} features per row, which image_shape={image_shape} "
            "cannot hold."
        )
    return image_shape


def check_images(estimator, X, y="no_validation", *, image_shape=None, reset=True):
    """Validate image input and return it as a float32 ``(n, C, H, W)`` array.

    Accepted layouts: ``(n, H, W)`` (one channel), ``(n, C, H, W)``, and 2-D
    ``(n, d)`` with ``image_shape=(C, H, W)`` (one entry may be -1, inferred as in
    ``numpy.reshape``: ``(1, 1, -1)`` reads each row as a one-row image) or, when
    ``image_shape`` is None, a single-channel square image with side ``sqrt(d)``.
    Integer images (any integer dtype) are pixels in [0, 255], scaled to [0, 1];
    float images are used as they are. ``fit`` records the value range it saw
    (``input_range_``); later input on another scale (say floats in [0, 255]
    after integer images in fit) warns with :class:`InputRangeWarning`.

    On ``reset=True`` this sets ``n_features_in_`` (``C * H * W``) and
    ``image_shape_`` on the estimator; otherwise it checks new input against them.

    Parameters
    ----------
    estimator : estimator instance
        The estimator being fitted or used.
    X : array-like
        Images.
    y : array-like or None, default="no_validation"
        Targets, validated together with ``X`` unless left at "no_validation";
        None raises, as scikit-learn does for estimators that need ``y``.
    image_shape : tuple of int, default=None
        ``(C, H, W)`` for 2-D input; one entry may be -1.
    reset : bool, default=True
        True in ``fit``, False afterwards.

    Returns
    -------
    X : ndarray of shape (n, C, H, W), dtype float32
    y : ndarray or None
    """
    if image_shape is not None:
        image_shape = _check_image_shape(image_shape)
    no_y = isinstance(y, str) and y == "no_validation"
    ndim = 2 if _is_sparse(X) else _ndim(X)
    dtype = getattr(X, "dtype", None)
    is_integer = dtype is not None and np.dtype(dtype).kind in "iu"

    if ndim == 2:
        out = validate_data(estimator, X, y, dtype=np.float32, reset=reset)
        X, y = (out, None) if no_y else out
        shape = estimator.image_shape_ if not reset else image_shape
        X = X.reshape(-1, *_resolve_image_shape(shape, X.shape[1]))
    elif ndim in (3, 4):
        X = check_array(
            X, dtype=np.float32, allow_nd=True, ensure_min_samples=1, input_name="X"
        )
        if X.ndim == 3:
            X = X[:, None]
        if y is None:
            raise ValueError(
                f"This {type(estimator).__name__} estimator requires y to be "
                "passed, but the target y is None."
            )
        if no_y:
            y = None
        else:
            y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
            if y.ndim != 1:
                raise ValueError(f"y must be 1-D; got an array of shape {y.shape}.")
            if len(y) != len(X):
                raise ValueError(
                    f"X and y have different lengths: {len(X)} images and "
                    f"{len(y)} labels."
                )
        if reset:
            estimator.n_features_in_ = int(math.prod(X.shape[1:]))
        elif X.shape[1:] != tuple(estimator.image_shape_):
            raise ValueError(
                f"X has images of shape {X.shape[1:]}, but {type(estimator).__name__}"
                f" was fitted on images of shape {tuple(estimator.image_shape_)}."
            )
    else:
        hint = " Reshape your data: one image needs a leading sample axis."
        raise ValueError(
            "X must be images of shape (n, H, W) or (n, C, H, W), or a 2-D array "
            f"(n, C*H*W); got an array with {ndim} dimension(s)."
            + (hint if ndim < 2 else "")
        )
    if is_integer:
        if X.size and (X.min() < 0 or X.max() > 255):
            raise ValueError(
                "X holds integer images, read as pixels in [0, 255], but its values "
                f"range over [{X.min():g}, {X.max():g}]; pass floats for other "
                "scales."
            )
        X = X / np.float32(255.0)
    seen = (float(X.min()), float(X.max())) if X.size else (0.0, 0.0)
    if reset:
        estimator.image_shape_ = tuple(int(s) for s in X.shape[1:])
        estimator.input_range_ = seen
    else:
        _warn_on_another_scale(estimator, seen)
    return X, y


class InputRangeWarning(UserWarning):
    """Images whose values lie on another scale than those seen in ``fit``."""


def _warn_on_another_scale(estimator, seen):
    low, high = getattr(estimator, "input_range_", seen)
    slack = 0.5 * max(high - low, 1e-6)
    if seen[0] < low - slack or seen[1] > high + slack:
        warnings.warn(
            f"X's values lie in [{seen[0]:g}, {seen[1]:g}] but the images seen in "
            f"fit lay in [{low:g}, {high:g}]: integer images are read as pixels in "
            "[0, 255] and divided by 255, float images are used as they are; "
            "pass X on the scale used in fit.",
            InputRangeWarning,
            stacklevel=3,
        )


def _ndim(X):
    if hasattr(X, "shape"):
        return len(X.shape)
    try:
        return np.asarray(X).ndim
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"X must be a rectangular array of images: {exc}") from exc


def _is_sparse(X):
    return hasattr(X, "tocsr") or hasattr(X, "toarray")


def _square_shape(n_features):
    side = math.isqrt(n_features)
    if side * side != n_features:
        raise ValueError(
            f"X has {n_features} features per row, which is not a square image; "
            "pass image_shape=(C, H, W) for 2-D input, or pass images of shape "
            "(n, H, W) or (n, C, H, W)."
        )
    return (1, side, side)
