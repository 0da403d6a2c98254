"""Synthetic images whose labels are rotation-invariant shapes or orientations."""

import numpy as np
from sklearn.utils import Bunch, check_random_state

SHAPES = ("disc", "ring", "cross")


def make_orientation_shapes(
    n_samples=600,
    *,
    size=32,
    orientations=(0, 45, 90, 135),
    noise=0.05,
    return_X_y=False,
    random_state=None,
):
    """Grey images of shapes and of oriented bars: a test bed for label-aware
    augmentation.

    Shape classes (``disc``, ``ring``, ``cross``; a cross is drawn at a random
    angle) keep their label under any rotation. Orientation classes (``bar_0``,
    ``bar_45``, ...) are bars at that angle (+-5 degrees); a rotation by more than
    half the spacing of ``orientations`` turns one into another. A good
    label-aware policy rotates the first kind and not the second.

    Parameters
    ----------
    n_samples : int, default=600
        Images in total, split evenly over the classes.
    size : int, default=32
        Image side in pixels.
    orientations : tuple of float, default=(0, 45, 90, 135)
        Bar angles in degrees, one class each.
    noise : float, default=0.05
        Standard deviation of added Gaussian pixel noise.
    return_X_y : bool, default=False
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    data : Bunch with ``images`` (float32, (n, 1, size, size) in [0, 1]),
        ``target`` (str labels), ``rotation_invariant`` (bool per class, in
        ``target_names`` order), ``target_names`` and ``DESCR``; or
        ``(images, target)``.
    """
    rng = check_random_state(random_state)
    names = list(SHAPES) + [f"bar_{int(a)}" for a in orientations]
    invariant = [True] * len(SHAPES) + [False] * len(orientations)
    labels = np.array(names)[np.arange(n_samples) % len(names)]
    rng.shuffle(labels)
    grid = (np.arange(size) + 0.5) / size * 2 - 1  # [-1, 1]
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    images = np.empty((n_samples, 1, size, size), dtype=np.float32)
    angles = dict(zip(names[len(SHAPES) :], orientations))
    for i, label in enumerate(labels):
        cx, cy = rng.uniform(-0.15, 0.15, 2)
        x, y = xx - cx, yy - cy
        r = np.hypot(x, y)
        scale = rng.uniform(0.45, 0.65)
        if label == "disc":
            img = r < scale
        elif label == "ring":
            img = (r < scale) & (r > scale - 0.18)
        else:
            theta = np.deg2rad(
                angles[label] + rng.uniform(-5, 5)
                if label in angles
                else rng.uniform(0, 180)
            )
            along = x * np.cos(theta) - y * np.sin(theta)
            across = x * np.sin(theta) + y * np.cos(theta)
            img = (np.abs(along) < scale + 0.2) & (np.abs(across) < 0.1)
            if label == "cross":
                img |= (np.abs(across) < scale) & (np.abs(along) < 0.1)
        img = img.astype(np.float32) + rng.normal(0, noise, img.shape)
        images[i, 0] = np.clip(img, 0, 1)
    descr = (
        "Shapes (rotation-invariant labels) and oriented bars "
        "(rotation-defined labels)."
    )
    if return_X_y:
        return images, labels
    return Bunch(
        images=images,
        target=labels,
        target_names=names,
        rotation_invariant=dict(zip(names, invariant)),
        DESCR=descr,
    )
