"""The conditions GlyphDraw's UNet sees (glyph image, position mask, caption and
glyph tokens, fused context), shared by training and sampling."""

import numpy as np
import torch

from sklearn_suite.datasets._glyph_scenes import (
    box_mask,
    render_glyph_image,
    render_text_box,
)


class GlyphConditions:
    """Conditions of a fitted GlyphDrawGenerator (a mixin of the estimator)."""

    def _glyph_images(self, texts, boxes):
        """Glyph images the glyph encoder reads: text centred, side by side
        unless the box is taller."""
        glyphs = [
            render_glyph_image(
                text,
                self.image_size_,
                self.font_path_,
                box is None or (box[2] - box[0]) >= (box[3] - box[1]),
            )
            for text, box in zip(texts, boxes, strict=True)
        ]
        return torch.as_tensor(np.stack(glyphs))[:, None]

    def _glyph_channels(self, texts, boxes):
        """The UNet's glyph input channel: the centred glyph image
        (``glyph_placement="centre"``) or the text drawn in its box (``"box"``;
        empty without a box, as before the mask predictor has placed it)."""
        if self.glyph_placement == "centre":
            return self._glyph_images(texts, boxes)
        size = self.image_size_
        glyphs = [
            render_text_box(text, box, size, self.font_path_)
            if text and box is not None
            else np.zeros((size, size), dtype=np.float32)
            for text, box in zip(texts, boxes, strict=True)
        ]
        return torch.as_tensor(np.stack(glyphs))[:, None]

    def _masks(self, texts, boxes):
        """Position masks (all zero for rows without text)."""
        masks = [
            box_mask(box if text else None, self.image_size_)
            for text, box in zip(texts, boxes, strict=True)
        ]
        return torch.as_tensor(np.stack(masks))[:, None]

    @torch.no_grad()
    def _caption_tokens(self, captions):
        encoder = self.base_model_.caption_encoder.eval()
        ids = self.tokenizer_(list(captions)).to(self.device_)
        return torch.cat([encoder(chunk) for chunk in ids.split(256)])

    @torch.no_grad()
    def _glyph_token_batch(self, glyphs):
        encoder = self.glyph_encoder_.eval()
        return torch.cat(
            [encoder.tokens(g.to(self.device_)) for g in glyphs.split(256)]
        )

    def _glyph_tokens(self, texts, boxes):
        """Glyph tokens of the centred glyph images, whatever the placement."""
        return self._glyph_token_batch(self._glyph_images(texts, boxes))

    def _context(self, caption_tokens, glyph_tokens):
        return self.fusion_(caption_tokens, glyph_tokens if self.glyph_tokens else None)

    def _unet_input(self, x, glyph, mask):
        if not self.glyph_channels:
            glyph = torch.zeros_like(glyph)
        return torch.cat([x, glyph, mask], dim=1)
