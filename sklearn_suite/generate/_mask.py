"""GlyphDraw's optional mask predictor: where to put the text when no box is given."""

import math

import torch
import torch.nn.functional as F
from torch import nn

TIME_DIM = 32


def _timestep_encoding(t, n_pixels_shape):
    """Sinusoidal encoding of the noise level, broadcast to every pixel."""
    half = TIME_DIM // 2
    freqs = torch.exp(-math.log(10_000) * torch.arange(half, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None]
    encoding = torch.cat([angles.sin(), angles.cos()], dim=1)
    h, w = n_pixels_shape
    return encoding[:, :, None, None].expand(-1, -1, h, w)


@torch.no_grad()
def unet_features(unet, sample, t, context):
    """Outputs of every down and up block of ``unet``, resized to the input's
    resolution and stacked along channels (the official predictor's input)."""
    outputs = []

    def keep(_module, _inputs, output):
        outputs.append(output[0] if isinstance(output, tuple) else output)

    hooks = [
        b.register_forward_hook(keep) for b in (*unet.down_blocks, *unet.up_blocks)
    ]
    try:
        unet(sample, t, encoder_hidden_states=context)
    finally:
        for hook in hooks:
            hook.remove()
    size = sample.shape[-2:]
    return torch.cat(
        [
            F.interpolate(o, size=size, mode="bilinear", align_corners=False)
            for o in outputs
        ],
        dim=1,
    )


def feature_channels(unet):
    """Channels of :func:`unet_features` for ``unet``."""
    widths = list(unet.config.block_out_channels)
    return sum(widths) + sum(reversed(widths))


class MaskPredictor(nn.Module):
    """Per-pixel MLP (1x1 convolutions with BatchNorm) from UNet block features
    and the noise level to the probability that a pixel is in the text box.

    The official module uses 512-256-128-64 units on 7,080 feature channels of
    Stable Diffusion; ``hidden`` scales it to the small UNet.
    """

    def __init__(self, in_channels, hidden=(128, 64, 32)):
        super().__init__()
        layers, width = [], in_channels + TIME_DIM
        for units in hidden:
            layers += [nn.Conv2d(width, units, 1), nn.BatchNorm2d(units), nn.ReLU()]
            width = units
        layers.append(nn.Conv2d(width, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, features, t):
        encoding = _timestep_encoding(t, features.shape[-2:])
        return torch.sigmoid(self.net(torch.cat([features, encoding], dim=1)))


def mask_to_box(mask, threshold=0.5):
    """Bounding box ``(x0, y0, x1, y1)`` in [0, 1] of the pixels above
    ``threshold``, or None when there are none.

    Parameters
    ----------
    mask : torch.Tensor of shape (H, W)
    threshold : float, default=0.5

    Returns
    -------
    box : tuple of 4 floats or None
    """
    ys, xs = torch.nonzero(mask > threshold, as_tuple=True)
    if len(xs) == 0:
        return None
    h, w = mask.shape
    return (
        xs.min().item() / w,
        ys.min().item() / h,
        (xs.max().item() + 1) / w,
        (ys.max().item() + 1) / h,
    )
