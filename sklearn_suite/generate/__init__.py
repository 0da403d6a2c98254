"""GlyphDraw: glyph- and position-conditioned diffusion for Chinese text in images."""

from sklearn_suite.generate._diffusion import (
    box_weighted_loss,
    condition_dropout,
    dual_guidance,
)
from sklearn_suite.generate._glyphdraw import GlyphDrawGenerator
from sklearn_suite.generate._modules import (
    BaseDiffusion,
    CaptionEncoder,
    CaptionTokenizer,
    FusionTransformer,
    GlyphEncoder,
    build_unet,
    widen_conv_in,
)
from sklearn_suite.generate._ocr import GlyphRecognizer, box_cells
from sklearn_suite.generate._plot import plot_samples
from sklearn_suite.generate._ppocr import PPOCRReader

__all__ = [
    "BaseDiffusion",
    "CaptionEncoder",
    "CaptionTokenizer",
    "FusionTransformer",
    "GlyphDrawGenerator",
    "GlyphEncoder",
    "GlyphRecognizer",
    "PPOCRReader",
    "box_cells",
    "box_weighted_loss",
    "build_unet",
    "condition_dropout",
    "dual_guidance",
    "plot_samples",
    "widen_conv_in",
]
