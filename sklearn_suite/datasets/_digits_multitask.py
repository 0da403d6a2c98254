"""Dense and keypoint tasks on the digits (AIO-P's downstream tasks at toy scale), and
the multi-task table that ships with the library."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch, check_random_state

from sklearn_suite.datasets._digits_nas import load_digits_nas

DIGITS_MULTITASK_CSV = Path(__file__).parent / "data" / "digits_multitask.csv"
INK_THRESHOLD = 0.25
KEYPOINT_NAMES = ("centroid", "top", "bottom", "left", "right")


def ink_keypoints(images, threshold=INK_THRESHOLD):
    """Ink centroid and the four extreme ink points of each image, as (row, col).

    The centroid is intensity-weighted; an extreme point is the mean position of
    the ink pixels on the extreme row (top, bottom) or column (left, right).

    Parameters
    ----------
    images : ndarray of shape (n, H, W)
        Grey images in [0, 1].
    threshold : float, default=0.25
        Pixels above it are ink.

    Returns
    -------
    keypoints : ndarray of shape (n, 5, 2)
        In :data:`KEYPOINT_NAMES` order, in pixel units.
    """
    images = np.asarray(images, dtype=float)
    rows, cols = np.indices(images.shape[1:])
    out = np.empty((len(images), len(KEYPOINT_NAMES), 2))
    for i, image in enumerate(images):
        ink = image > threshold
        if not ink.any():
            raise ValueError(f"image {i} has no pixel above {threshold}")
        weights = image / image.sum()
        out[i, 0] = (weights * rows).sum(), (weights * cols).sum()
        r, c = rows[ink], cols[ink]
        out[i, 1] = r.min(), c[r == r.min()].mean()
        out[i, 2] = r.max(), c[r == r.max()].mean()
        out[i, 3] = r[c == c.min()].mean(), c.min()
        out[i, 4] = r[c == c.max()].mean(), c.max()
    return out


def make_ink_tasks(noise=0.3, random_state=0):
    """The digits as three tasks on one fixed split: classification, ink segmentation
    from noisy input, and ink keypoints.

    Uses scikit-learn's 8x8 digits with the stratified 50/50 split of
    :func:`load_digits_nas` (``random_state=0``). The segmentation target is the
    clean image's ink mask (pixel > 0.25); keypoints are :func:`ink_keypoints` of
    the clean image. ``X_test`` carries fixed Gaussian noise; training code adds
    fresh noise of the same level to each batch of ``X_train``.

    Parameters
    ----------
    noise : float, default=0.3
        Standard deviation of the Gaussian noise on the test inputs.
    random_state : int, RandomState instance or None, default=0
        Seeds the test noise.

    Returns
    -------
    data : Bunch
        ``X_train`` / ``X_test`` (n, 1, 8, 8) float32 in [0, 1] (test noisy),
        ``labels_*`` (n,), ``masks_*`` (n, 8, 8) bool, ``keypoints_*`` (n, 5, 2).

    Examples
    --------
    >>> from sklearn_suite.datasets import make_ink_tasks
    >>> data = make_ink_tasks()
    >>> data.X_train.shape, data.masks_test.shape, data.keypoints_test.shape
    ((898, 1, 8, 8), (899, 8, 8), (899, 5, 2))
    """
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    idx_train, idx_test = train_test_split(
        np.arange(len(images)), test_size=0.5, stratify=digits.target, random_state=0
    )
    rng = check_random_state(random_state)
    noisy_test = images[idx_test] + noise * rng.standard_normal(
        images[idx_test].shape
    ).astype(np.float32)
    keypoints = ink_keypoints(images)
    masks = images > INK_THRESHOLD
    return Bunch(
        X_train=images[idx_train, None],
        X_test=noisy_test[:, None],
        labels_train=digits.target[idx_train],
        labels_test=digits.target[idx_test],
        masks_train=masks[idx_train],
        masks_test=masks[idx_test],
        keypoints_train=keypoints[idx_train],
        keypoints_test=keypoints[idx_test],
    )


def load_digits_multitask(families=None):
    """Load the multi-task micro NAS table: one backbone, three tasks, cheap labels.

    For 400 networks of :func:`load_digits_nas` (100 per family),
    ``benchmarks/make_digits_multitask.py`` trained the backbone on digit
    classification, then per network and task a fresh head on the pretrained
    backbone, backbone and head fine-tuned together (the ground truth):

    - ``accuracy``: task 1, digit classification, percent (seed 0 of the NAS table);
    - ``seg_miou``: task 2, ink segmentation from noisy input, mIoU in percent,
      the mean of three fine-tuning runs ``seg_miou_0`` .. ``seg_miou_2`` (run 0
      on the original backbone, runs 1 and 2 with other fine-tuning seeds on a
      backbone retrained with the same recipe);
    - ``kp_pck``: task 3, ink centroid and extreme points, PCK@1 pixel in percent
      (Gaussian heatmaps regressed with MSE, read with a sharp soft-argmax), the
      mean of three runs ``kp_pck_0`` .. ``kp_pck_2`` on the retrained backbone;
    - ``seg_miou_pseudo``: task 2's cheap label, one segmentation head shared by
      100 frozen backbones (swapped every 10 batches), adapted briefly to each
      frozen backbone and evaluated;
    - ``seg_seconds``, ``pseudo_seconds``: measured cost of each kind of label.

    Parameters
    ----------
    families : list of str, default=None
        Families to keep; None keeps all four.

    Returns
    -------
    data : Bunch
        ``frame`` (the columns above plus the NAS table's spec, FLOPs and params),
        ``specs``, ``family``, ``input_shape`` = (1, 8, 8), ``build``.

    Examples
    --------
    >>> from sklearn_suite.datasets import load_digits_multitask
    >>> data = load_digits_multitask(families=["resnet"])
    >>> len(data.specs), round(float(data.frame.kp_pck.min()), 1) >= 0
    (100, True)
    """
    nas = load_digits_nas(families=families)
    tasks = pd.read_csv(DIGITS_MULTITASK_CSV)
    frame = nas.frame.drop(columns=["accuracy"]).merge(
        tasks, on=["family", "index"], how="inner"
    )
    frame = frame.sort_values(["family", "index"]).reset_index(drop=True)
    return Bunch(
        frame=frame,
        specs=[json.loads(s) for s in frame["spec"]],
        family=frame["family"].to_numpy(),
        input_shape=nas.input_shape,
        build=nas.build,
    )
