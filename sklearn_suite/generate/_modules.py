"""Networks of GlyphDraw's small-scale version: caption encoder, UNet, glyph encoder,
fusion transformer."""

import re

import torch
from torch import nn

PAD, BOS, UNK = 0, 1, 2
_TOKEN = re.compile(r"[A-Za-z]+|[^\sA-Za-z,]")


class CaptionTokenizer:
    """Words and single CJK characters / quote marks of captions, as integer ids.

    The null caption (classifier-free guidance) is the empty string: ``[BOS]``
    followed by padding.

    Parameters
    ----------
    max_length : int, default=24
        Sequence length including ``BOS``; longer captions are truncated.
    """

    def __init__(self, max_length=24):
        self.max_length = max_length

    @staticmethod
    def split(caption):
        return _TOKEN.findall(caption)

    def fit(self, captions):
        words = sorted({w for c in captions for w in self.split(c)})
        self.vocabulary_ = {w: i + 3 for i, w in enumerate(words)}
        return self

    def __call__(self, captions):
        ids = torch.full((len(captions), self.max_length), PAD, dtype=torch.long)
        ids[:, 0] = BOS
        for row, caption in enumerate(captions):
            words = self.split(caption)[: self.max_length - 1]
            ids[row, 1 : len(words) + 1] = torch.tensor(
                [self.vocabulary_.get(w, UNK) for w in words], dtype=torch.long
            )
        return ids

    @property
    def vocabulary_size(self):
        return len(self.vocabulary_) + 3


class CaptionEncoder(nn.Module):
    """A small Transformer over caption tokens (stand-in for SD's text encoder)."""

    def __init__(self, vocabulary_size, max_length, dim=64, n_layers=2, n_heads=4):
        super().__init__()
        self.embedding = nn.Embedding(vocabulary_size, dim, padding_idx=PAD)
        self.position = nn.Parameter(torch.zeros(1, max_length, dim))
        layer = nn.TransformerEncoderLayer(
            dim, n_heads, 4 * dim, dropout=0.0, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(
            layer, n_layers, enable_nested_tensor=False
        )
        self.norm = nn.LayerNorm(dim)
        nn.init.normal_(self.position, std=0.02)

    def forward(self, ids):
        h = self.embedding(ids) + self.position[:, : ids.shape[1]]
        return self.norm(self.encoder(h, src_key_padding_mask=ids == PAD))


def build_unet(image_size, channels, context_dim, in_channels=3):
    """A diffusers ``UNet2DConditionModel`` with cross-attention at the coarsest
    resolution and in the middle block (cheap enough for CPUs)."""
    from diffusers import UNet2DConditionModel

    n = len(channels)
    down = ("DownBlock2D",) * (n - 1) + ("CrossAttnDownBlock2D",)
    up = ("CrossAttnUpBlock2D",) + ("UpBlock2D",) * (n - 1)
    groups = min(8, *channels)
    return UNet2DConditionModel(
        sample_size=image_size,
        in_channels=in_channels,
        out_channels=3,
        block_out_channels=tuple(channels),
        down_block_types=down,
        up_block_types=up,
        cross_attention_dim=context_dim,
        layers_per_block=1,
        attention_head_dim=8,
        norm_num_groups=groups,
    )


def widen_conv_in(unet, n_extra):
    """Add ``n_extra`` zero-initialised input channels to ``unet.conv_in``.

    The original channels keep their weights and the bias is kept, so with any
    values in the new channels the UNet's output is unchanged until they train.
    """
    old = unet.conv_in
    new = nn.Conv2d(
        old.in_channels + n_extra,
        old.out_channels,
        old.kernel_size,
        old.stride,
        old.padding,
    )
    with torch.no_grad():
        new.weight.zero_()
        new.weight[:, : old.in_channels] = old.weight
        new.bias.copy_(old.bias)
    unet.conv_in = new.to(old.weight.device)
    unet.register_to_config(in_channels=new.in_channels)
    return unet


class GlyphEncoder(nn.Module):
    """CNN over glyph images: spatial feature tokens plus a multi-label head.

    Pretrained to recognise which characters a glyph image contains (stand-in for
    GlyphDraw's frozen Chinese-CLIP image encoder), then frozen; ``tokens`` gives
    a ``grid x grid`` map of feature vectors as the glyph tokens.
    """

    def __init__(self, n_classes, dim=64, grid=4):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1),
            nn.GELU(),
            nn.Conv2d(64, dim, 3, stride=2, padding=1),
            nn.GELU(),
            nn.AdaptiveAvgPool2d(grid),
        )
        self.head = nn.Linear(dim, n_classes)

    def tokens(self, glyph):
        return self.features(glyph).flatten(2).transpose(1, 2)

    def forward(self, glyph):
        return self.head(self.tokens(glyph).amax(dim=1))


class FusionTransformer(nn.Module):
    """GlyphDraw's fusion module: a causal Transformer over caption tokens followed
    by projected glyph tokens, whose output is the UNet's cross-attention context.

    The residual branches and the output projection start as identity maps, so at
    the first step the caption part of the context equals the caption encoder's
    tokens the base UNet was trained on. Learned absolute positions stand in for
    the official rotary embedding and relative-position bias.
    """

    def __init__(self, dim, glyph_dim, n_caption, n_glyph, n_layers=2, n_heads=4):
        super().__init__()
        self.glyph_proj = nn.Linear(glyph_dim, dim)
        self.position = nn.Parameter(torch.zeros(1, n_caption + n_glyph, dim))
        layer = nn.TransformerEncoderLayer(
            dim, n_heads, 4 * dim, dropout=0.0, batch_first=True, norm_first=True
        )
        self.layers = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.out = nn.Linear(dim, dim)
        with torch.no_grad():
            for block in self.layers.layers:
                for lin in (block.self_attn.out_proj, block.linear2):
                    lin.weight.zero_()
                    lin.bias.zero_()
            self.out.weight.copy_(torch.eye(dim))
            self.out.bias.zero_()

    def forward(self, caption_tokens, glyph_tokens=None):
        parts = [caption_tokens]
        if glyph_tokens is not None:
            parts.append(self.glyph_proj(glyph_tokens))
        h = torch.cat(parts, dim=1)
        h = h + self.position[:, : h.shape[1]]
        causal = nn.Transformer.generate_square_subsequent_mask(
            h.shape[1], device=h.device, dtype=h.dtype
        )
        return self.out(self.layers(h, mask=causal, is_causal=True))


class CellClassifier(nn.Module):
    """The OCR's character classifier on 16x16 colour cells (independent of the
    glyph encoder: other input, other architecture, other training data)."""

    def __init__(self, n_classes):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Dropout(0.2),
            nn.Linear(64 * 16, 128),
            nn.ReLU(),
            nn.Linear(128, n_classes),
        )

    def forward(self, x):
        return self.net(x)


class BaseDiffusion(nn.Module):
    """The text-to-image base model: caption encoder + UNet, trained together."""

    def __init__(self, caption_encoder, unet):
        super().__init__()
        self.caption_encoder = caption_encoder
        self.unet = unet
