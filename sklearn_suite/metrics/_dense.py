"""Metrics for the dense and keypoint tasks of the multi-task NAS benchmark."""

import numpy as np


def mean_iou_score(y_true, y_pred):
    """Mean intersection over union of the foreground and background classes.

    IoU is accumulated over every pixel of every image (dataset-level, as
    segmentation benchmarks report it), then averaged over the two classes.

    Parameters
    ----------
    y_true, y_pred : array-like of bool, same shape
        Binary masks.

    Returns
    -------
    score : float
        In [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_suite.metrics import mean_iou_score
    >>> mean_iou_score(np.array([1, 1, 0, 0]), np.array([1, 0, 0, 0]))
    0.5833333333333333
    """
    y_true = np.asarray(y_true).astype(bool)
    y_pred = np.asarray(y_pred).astype(bool)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"shapes differ: {y_true.shape} and {y_pred.shape}")
    ious = []
    for cls in (True, False):
        t, p = y_true == cls, y_pred == cls
        union = np.logical_or(t, p).sum()
        ious.append(np.logical_and(t, p).sum() / union if union else 1.0)
    return float(np.mean(ious))


def pck_score(y_true, y_pred, threshold=1.0):
    """Percentage of correct keypoints: the share within ``threshold`` of the truth.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n, n_keypoints, 2)
        Keypoint coordinates.
    threshold : float, default=1.0
        Euclidean distance (same units as the coordinates) counted as correct.

    Returns
    -------
    score : float
        In [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_suite.metrics import pck_score
    >>> pck_score(np.zeros((1, 2, 2)), np.array([[[0.5, 0.5], [2.0, 0.0]]]))
    0.5
    """
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    if y_true.shape != y_pred.shape or y_true.shape[-1] != 2:
        raise ValueError(
            f"expected two (n, n_keypoints, 2) arrays, got {y_true.shape} and "
            f"{y_pred.shape}"
        )
    return float((np.linalg.norm(y_true - y_pred, axis=-1) <= threshold).mean())
