"""Sampling of GlyphDrawGenerator: DDIM with dual guidance, boxes given, drawn at
random or read off the mask predictor."""

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from sklearn_suite.base import check_seed
from sklearn_suite.generate._diffusion import ddim_sample, dual_guidance, to_uint8
from sklearn_suite.generate._inputs import check_glyphs, check_scenes
from sklearn_suite.generate._mask import mask_to_box, unet_features


class GlyphDrawSampling:
    """Generation of a fitted GlyphDrawGenerator (a mixin of the estimator)."""

    def _prompt_boxes(self, texts, boxes, rng):
        """User boxes, or a random box of the text's size where none is given
        and none was predicted (GlyphDraw's alternative to its mask predictor)."""
        out = []
        cell = 0.4
        for text, box in zip(texts, boxes, strict=True):
            if text and box is None:
                n = len(text)
                w, h = (min(cell * n, 1.0), cell)
                x0, y0 = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
                box = (x0, y0, x0 + w, y0 + h)
            out.append(box)
        return out

    @torch.no_grad()
    def _generate(self, X):
        check_is_fitted(self, "base_model_")
        X, boxes = check_scenes(X, training=False)
        texts = list(X["text"])
        check_glyphs(texts, self.font_path_)
        seed = check_seed(self.random_state)
        rng = np.random.RandomState(seed)
        generator = torch.Generator().manual_seed(seed)
        size = self.image_size_
        out, out_boxes = [], []
        for start in range(0, len(X), 64):
            rows = slice(start, start + 64)
            captions = self._caption_tokens(X["caption"].iloc[rows])
            null = self._caption_tokens([""]).expand_as(captions)
            # on the CPU, so that a seed gives the same images on every device
            noise = torch.randn((captions.shape[0], 3, size, size), generator=generator)
            noise = noise.to(self.device_)
            chunk_boxes = boxes[rows]
            if self.stage == "base":
                chunk_boxes = self._prompt_boxes(texts[rows], chunk_boxes, rng)
                denoise = self._base_denoiser(captions, null)
            else:
                if self.mask_predictor_ is not None:
                    chunk_boxes = self._predict_boxes(
                        texts[rows], chunk_boxes, captions, null, noise, generator
                    )
                chunk_boxes = self._prompt_boxes(texts[rows], chunk_boxes, rng)
                glyph = self._glyph_channels(texts[rows], chunk_boxes)
                mask = self._masks(texts[rows], chunk_boxes)
                tokens = self._glyph_tokens(texts[rows], chunk_boxes)
                denoise = self._glyphdraw_denoiser(captions, null, tokens, glyph, mask)
            out.append(
                ddim_sample(
                    denoise,
                    noise,
                    self.num_inference_steps,
                    self.prediction_type_,
                    eta=self.eta,
                    generator=generator,
                )
            )
            out_boxes += chunk_boxes
        return to_uint8(torch.cat(out)), out_boxes

    def _predict_boxes(self, texts, boxes, captions, null, noise, generator):
        """GlyphDraw's mask prediction: denoise 40% of the way with an empty mask
        (20 of 50 steps in the paper), read the mask off the UNet's features, and
        let the caller restart from the same noise with it."""
        needs = [bool(t) and b is None for t, b in zip(texts, boxes, strict=True)]
        if not any(needs):
            return boxes
        no_boxes = [None] * len(texts)
        glyph = self._glyph_channels(texts, no_boxes)
        tokens = self._glyph_tokens(texts, no_boxes)
        empty = torch.zeros_like(glyph)
        denoise = self._glyphdraw_denoiser(captions, null, tokens, glyph, empty)
        stop = max(1, round(0.4 * self.num_inference_steps))
        x_t, t = ddim_sample(
            denoise,
            noise,
            self.num_inference_steps,
            self.prediction_type_,
            stop,
            eta=self.eta,
            generator=generator,
        )
        glyph = glyph.to(self.device_)
        context = self._context(captions, tokens)
        t = t.repeat(len(texts)).to(self.device_)
        features = unet_features(
            self.unet_, self._unet_input(x_t, glyph, empty.to(self.device_)), t, context
        )
        probability = self.mask_predictor_.eval()(features, t)[:, 0].cpu()
        return [
            mask_to_box(p) if need else box
            for p, need, box in zip(probability, needs, boxes, strict=True)
        ]

    def _base_denoiser(self, captions, null):
        unet = self.base_model_.unet.eval()
        context = torch.cat([captions, null])

        def denoise(x, t):
            eps = unet(torch.cat([x, x]), t, encoder_hidden_states=context).sample
            eps_cond, eps_uncond = eps.chunk(2)
            return eps_uncond + self.guidance_text * (eps_cond - eps_uncond)

        return denoise

    def _glyphdraw_denoiser(self, captions, null, glyph_tokens, glyph, mask):
        glyph, mask = glyph.to(self.device_), mask.to(self.device_)
        # full: caption + channels; image: null caption + channels; uncond: null + zeros
        null_context = self._context(null, glyph_tokens)
        context = torch.cat(
            [self._context(captions, glyph_tokens), null_context, null_context]
        )
        zeros = torch.zeros_like(glyph)

        def denoise(x, t):
            inputs = torch.cat(
                [
                    self._unet_input(x, glyph, mask),
                    self._unet_input(x, glyph, mask),
                    self._unet_input(x, zeros, zeros),
                ]
            )
            eps = self.unet_(inputs, t, encoder_hidden_states=context).sample
            return dual_guidance(*eps.chunk(3), self.guidance_text, self.guidance_image)

        return denoise
