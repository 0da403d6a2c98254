"""LA3's op library on kornia: 16 ops, applied as ordered triples with random levels.

Magnitudes are not searched: at every application a level is drawn uniformly from
{0, ..., 9}/10 and mapped linearly into the op's range (as in LA3 and Fast
AutoAugment). Every op is batched with per-image magnitudes.
"""

import numpy as np
import torch

__all__ = ["OPS", "OP_NAMES", "apply_triples", "check_triples"]


def _kornia():
    import kornia

    return kornia


def _shear(axis):
    def op(x, v):
        shear = torch.zeros(len(x), 2, dtype=x.dtype, device=x.device)
        shear[:, axis] = v
        return _kornia().geometry.transform.shear(x, shear)

    return op


def _translate(axis):
    def op(x, v):
        shift = torch.zeros(len(x), 2, dtype=x.dtype, device=x.device)
        shift[:, axis] = v * x.shape[3 - axis]  # fraction of width / height
        return _kornia().geometry.transform.translate(x, shift)

    return op


def _rotate(x, v):
    return _kornia().geometry.transform.rotate(x, v)


def _auto_contrast(x, v):
    return _kornia().enhance.normalize_min_max(x)


def _invert(x, v):
    return _kornia().enhance.invert(x)


def _equalize(x, v):
    return _kornia().enhance.equalize(x)


def _solarize(x, v):
    return _kornia().enhance.solarize(x, v / 256.0)


def _posterize(x, v):
    return _kornia().enhance.posterize(x, v.round().long())


def _contrast(x, v):
    return _kornia().enhance.adjust_contrast_with_mean_subtraction(x, v)


def _color(x, v):
    if x.shape[1] != 3:  # saturation is the identity on grey images, as in PIL
        return x
    return _kornia().enhance.adjust_saturation(x, v)


def _brightness(x, v):
    return _kornia().enhance.adjust_brightness_accumulative(x, v)


def _sharpness(x, v):
    # PIL keeps the border pixels: an image under 3 pixels high or wide is all border
    if min(x.shape[-2:]) < 3:
        return x
    return _kornia().enhance.sharpness(x, v)


def _cutout(x, v):
    # one square patch of side v * image side, grey-filled, per image
    out = x.clone()
    for size in torch.unique(v):
        idx = (v == size).nonzero().flatten()
        if size <= 0:
            continue
        area = float(size) ** 2
        erase = _kornia().augmentation.RandomErasing(
            scale=(area, area), ratio=(1.0, 1.0), value=0.5, p=1.0
        )
        out[idx] = erase(x[idx])
    return out


def _identity(x, v):
    return x


# name -> (function(images, magnitudes), (low, high)); Identity is index 0, the
# padding index of the predictor's op embedding
OPS = {
    "Identity": (_identity, (0.0, 0.0)),
    "ShearX": (_shear(0), (-0.3, 0.3)),
    "ShearY": (_shear(1), (-0.3, 0.3)),
    "TranslateX": (_translate(0), (-0.45, 0.45)),
    "TranslateY": (_translate(1), (-0.45, 0.45)),
    "Rotate": (_rotate, (-30.0, 30.0)),
    "AutoContrast": (_auto_contrast, (0.0, 0.0)),
    "Invert": (_invert, (0.0, 0.0)),
    "Equalize": (_equalize, (0.0, 0.0)),
    "Solarize": (_solarize, (0.0, 256.0)),
    "Posterize": (_posterize, (4.0, 8.0)),
    "Contrast": (_contrast, (0.1, 1.9)),
    "Color": (_color, (0.1, 1.9)),
    "Brightness": (_brightness, (0.1, 1.9)),
    "Sharpness": (_sharpness, (0.1, 1.9)),
    "Cutout": (_cutout, (0.0, 0.2)),
}
OP_NAMES = tuple(OPS)
_INDEX = {name: i for i, name in enumerate(OP_NAMES)}


def check_triples(triples):
    """Op-name triples -> int array of shape (n, 3); unknown names raise ValueError."""
    out = []
    for triple in triples:
        if isinstance(triple, str) or len(triple) != 3:
            raise ValueError(f"A policy entry must be three op names; got {triple!r}.")
        unknown = [op for op in triple if op not in _INDEX]
        if unknown:
            raise ValueError(
                f"Unknown op name(s) {unknown} in {tuple(triple)!r}; known ops are "
                f"{list(OP_NAMES)}."
            )
        out.append([_INDEX[op] for op in triple])
    return np.asarray(out, dtype=np.int64).reshape(-1, 3)


def apply_triples(images, triples, generator):
    """Apply one ordered op triple to each image, with a random level per op.

    Parameters
    ----------
    images : torch.Tensor of shape (n, C, H, W)
        Float images in [0, 1].
    triples : array-like of int, shape (n, 3)
        Op indices into :data:`OP_NAMES`, applied left to right.
    generator : torch.Generator
        Draws the levels. Cutout's position comes from torch's global RNG (seed
        it with :func:`sklearn_suite.base.torch_seeded`).

    Returns
    -------
    images : torch.Tensor of shape (n, C, H, W), clipped to [0, 1]
    """
    triples = torch.as_tensor(np.asarray(triples), dtype=torch.long)
    out = images.clamp(0, 1)  # the ops (kornia's equalize, ...) need [0, 1]
    for position in range(3):
        levels = torch.randint(0, 10, (len(out),), generator=generator) / 10.0
        for op_index in torch.unique(triples[:, position]).tolist():
            if op_index == 0:
                continue
            fn, (low, high) = OPS[OP_NAMES[op_index]]
            idx = (triples[:, position] == op_index).nonzero().flatten()
            magnitude = (low + levels[idx] * (high - low)).to(out.dtype)
            out[idx] = fn(out[idx], magnitude.to(out.device)).clamp(0, 1)
    return out
