"""Input checks of GlyphDrawGenerator: scenes, boxes, glyphs and images."""

import math

import numpy as np
import pandas as pd
import torch

from sklearn_suite.datasets._glyph_scenes import font_has_glyphs


def check_scenes(X, *, training):
    """A DataFrame (or dict of columns) of scenes; returns it and its boxes."""
    if isinstance(X, dict):
        X = pd.DataFrame(X)
    if not isinstance(X, pd.DataFrame):
        raise TypeError(
            "X must be a pandas DataFrame or a dict of columns, "
            f"got {type(X).__name__}."
        )
    needed = ["caption", "text", "box"] + (["image"] if training else [])
    missing = [c for c in needed if c not in X.columns]
    if missing and not training and "box" in missing:
        X = X.assign(box=None)
        missing.remove("box")
    if missing:
        raise ValueError(f"X lacks column(s) {missing}; expected {needed}.")
    if len(X) == 0:
        raise ValueError("X is empty: 0 rows.")
    for name in ("caption", "text"):
        bad = [v for v in X[name] if not isinstance(v, str)]
        if bad:
            raise TypeError(
                f"Column {name!r} must hold str, found {type(bad[0]).__name__}."
            )
    boxes = [check_box(b, i) for i, b in enumerate(X["box"])]
    return X, boxes


def check_box(box, row):
    """``(x0, y0, x1, y1)`` inside [0, 1], or None."""
    if box is None or (isinstance(box, float) and math.isnan(box)):
        return None
    values = np.asarray(box, dtype=float)
    if values.shape != (4,):
        raise ValueError(f"box of row {row} must be (x0, y0, x1, y1), got {box!r}.")
    if not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > 1:
        raise ValueError(f"box of row {row} must lie in [0, 1], got {box!r}.")
    if values[0] >= values[2] or values[1] >= values[3]:
        raise ValueError(f"box of row {row} needs x0 < x1 and y0 < y1, got {box!r}.")
    return tuple(float(v) for v in values)


def check_glyphs(texts, font_path):
    """Every character must have a glyph in the font."""
    missing = sorted(
        {ch for t in texts for ch in t if not font_has_glyphs(font_path, ch)}
    )
    if missing:
        raise ValueError(
            f"text has characters with no glyph in the font {font_path!r}: "
            f"{''.join(missing)!r}."
        )


def check_images(column, unet_channels):
    """Square H x W x 3 uint8 images whose side the UNet can halve; returns them
    as a float tensor in [-1, 1]."""
    images = list(column)
    first = np.asarray(images[0])
    if first.ndim != 3 or first.shape[2] != 3 or first.shape[0] != first.shape[1]:
        raise ValueError(
            f"image must be a square H x W x 3 uint8 array, got shape {first.shape}."
        )
    if first.shape[0] < 8 or first.shape[0] % 2 ** (len(unet_channels) - 1):
        raise ValueError(
            f"image side {first.shape[0]} must be >= 8 and divisible by "
            f"{2 ** (len(unet_channels) - 1)} for "
            f"unet_channels={unet_channels}."
        )
    for i, image in enumerate(images):
        image = np.asarray(image)
        if image.shape != first.shape:
            raise ValueError(
                f"image of row {i} has shape {image.shape}, expected {first.shape}."
            )
        if image.dtype != np.uint8:
            raise TypeError(f"image of row {i} must be uint8, got {image.dtype}.")
    array = np.stack([np.asarray(im) for im in images])
    return torch.as_tensor(array).permute(0, 3, 1, 2).float() / 127.5 - 1.0
