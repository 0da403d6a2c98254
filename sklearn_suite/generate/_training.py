"""Training of GlyphDrawGenerator: the base text-to-image model, the glyph
encoder, the GlyphDraw stage and the mask predictor.

The diffusion stages are hand-written loops on :class:`~sklearn_suite.base.HandLoop`
(every step draws its own noise level and condition dropout over a mixed batch,
keeps an EMA of the weights, and trains a chosen subset of a frozen model); the
glyph encoder is minibatch classification, so it is a skorch net.
"""

import copy

import numpy as np
import torch
import torch.nn.functional as F

from sklearn_suite.base import HandLoop, fit_net, make_net, torch_seeded, warmup_decay
from sklearn_suite.datasets._glyph_scenes import render_glyph_image
from sklearn_suite.generate._diffusion import (
    box_weighted_loss,
    condition_dropout,
    in_box_error,
    noisy_input_and_target,
    training_scheduler,
)
from sklearn_suite.generate._mask import MaskPredictor, feature_channels, unet_features
from sklearn_suite.generate._modules import (
    BaseDiffusion,
    CaptionEncoder,
    FusionTransformer,
    GlyphEncoder,
    build_unet,
    widen_conv_in,
)
from sklearn_suite.generate._ocr import GlyphRecognizer

# UNet parameters GlyphDraw trains: the input conv and cross-attention keys/values
GLYPHDRAW_UNET_PARAMS = ("conv_in.", "attn2.to_k.", "attn2.to_v.")


class GlyphDrawTraining:
    """The training stages of GlyphDrawGenerator (a mixin of the estimator)."""

    def _fit_ocr(self, seed):
        """The given recogniser if fitted; else a copy of it (or a default one)
        fitted on this data's alphabet and image size."""
        ocr = self.ocr_model
        if ocr is not None and not isinstance(ocr, GlyphRecognizer):
            raise TypeError(f"ocr_model must be a GlyphRecognizer, got {type(ocr)}.")
        if ocr is not None and hasattr(ocr, "net_"):
            return ocr
        if not self.alphabet_:
            return None
        ocr = copy.copy(ocr) if ocr is not None else GlyphRecognizer()
        ocr.alphabet, ocr.image_size = self.alphabet_, self.image_size_
        ocr.font_path, ocr.device = self.font_path_, self.device_
        if self.ocr_model is None:
            ocr.random_state = seed % 100_000
        return ocr.fit()

    def _batches(self, n_steps, pools, rng):
        """Index batches; ``pools`` is [(indices, share)], shares summing to 1."""
        sizes = [int(round(self.batch_size * share)) for _, share in pools]
        sizes[0] = self.batch_size - sum(sizes[1:])
        for _ in range(n_steps):
            yield np.concatenate(
                [
                    pool[rng.randint(len(pool), size=k)]
                    for (pool, _), k in zip(pools, sizes, strict=True)
                    if k
                ]
            )

    def _timesteps(self, scheduler, n):
        high = scheduler.config.num_train_timesteps
        return torch.randint(0, high, (n,), device=self.device_)

    def _optimise(self, params, loss_fn, batches, stage, n_steps, lr, weight_decay):
        """AdamW with 100 warm-up steps and linear decay to 10% over ``params``
        (a name -> parameter dict); the weights end as their EMA when
        ``ema_decay`` is set. ``loss_fn`` returns the loss, or the loss and a
        dict of further per-step figures to record in the history."""
        from diffusers.training_utils import EMAModel

        params = list(params.values())
        optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
        schedule = warmup_decay(
            optimiser, total_steps=n_steps, warmup_steps=100, final_factor=0.1
        )
        ema = EMAModel(params, decay=self.ema_decay) if self.ema_decay else None
        loop = HandLoop(n_steps, stage, self.verbose)
        for _, batch in zip(loop, batches):
            loss = loss_fn(batch)
            loss, extras = loss if isinstance(loss, tuple) else (loss, {})
            loop.check(loss)
            for key, value in extras.items():
                loop.record(key, value)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            if ema is not None:
                ema.step(params)
        if ema is not None:
            ema.copy_to(params)
        self.history_[stage] = loop.history

    def _pretrain_base(self, images, captions, masks, rng, seed):
        size = images.shape[-1]
        with torch_seeded(seed, self.device_):
            caption_encoder = CaptionEncoder(
                self.tokenizer_.vocabulary_size,
                self.tokenizer_.max_length,
                self.context_dim,
                self.caption_layers,
            )
            unet = build_unet(size, self.unet_channels, self.context_dim)
            base = BaseDiffusion(caption_encoder, unet).to(self.device_)
            ids = self.tokenizer_(captions)
            null_ids = self.tokenizer_([""])
            scheduler = training_scheduler(self.prediction_type_)

            def loss_fn(batch):
                x0 = images[batch].to(self.device_)
                batch_ids = ids[batch].clone()
                drop = rng.uniform(size=len(batch)) < self.caption_dropout
                batch_ids[torch.as_tensor(drop)] = null_ids
                t = self._timesteps(scheduler, len(batch))
                x_t, target = noisy_input_and_target(scheduler, x0, t)
                context = base.caption_encoder(batch_ids.to(self.device_))
                predicted = base.unet(x_t, t, encoder_hidden_states=context).sample
                box_loss = in_box_error(
                    predicted, target, masks[batch].to(self.device_)
                )
                return F.mse_loss(predicted, target), {"box_loss": box_loss}

            pool = np.arange(len(images))
            base.train()
            self._optimise(
                dict(base.named_parameters()),
                loss_fn,
                self._batches(self.base_steps, [(pool, 1.0)], rng),
                "base",
                self.base_steps,
                self.base_lr,
                weight_decay=0.01,
            )
        return base

    def _pretrain_glyph_encoder(self, rng, seed):
        """Multi-label glyph classifier on rendered 1-2 character glyph images."""
        alphabet = self.alphabet_
        n = 2000
        texts = [
            "".join(
                alphabet[i] for i in rng.randint(len(alphabet), size=rng.randint(1, 3))
            )
            for _ in range(n)
        ]
        horizontal = rng.uniform(size=n) < 0.5
        glyphs = np.stack(
            [
                render_glyph_image(t, self.image_size_, self.font_path_, h)
                for t, h in zip(texts, horizontal, strict=True)
            ]
        )[:, None]
        targets = np.zeros((n, len(alphabet)), dtype=np.float32)
        for i, t in enumerate(texts):
            for ch in t:
                targets[i, alphabet.index(ch)] = 1.0
        with torch_seeded(seed + 1, self.device_):
            net = make_net(
                GlyphEncoder(len(alphabet), dim=self.context_dim),
                stage="glyph encoder",
                seed=seed + 1,
                device=self.device_,
                lr=2e-3,
                max_epochs=4,
                batch_size=64,
                criterion=torch.nn.BCEWithLogitsLoss,
                optimizer=torch.optim.Adam,
                callbacks=self.callbacks,
                verbose=self.verbose,
            )
            fit_net(net, glyphs.astype(np.float32), targets)
        self.history_["glyph_encoder"] = net.history
        return net.module_.requires_grad_(False).eval()

    def _fit_glyphdraw(self, images, X, boxes, rng, seed):
        texts = list(X["text"])
        self.glyph_encoder_ = self._pretrain_glyph_encoder(rng, seed)
        glyphs, masks = self._glyph_channels(texts, boxes), self._masks(texts, boxes)
        caption_tokens = self._caption_tokens(X["caption"])
        null_caption = self._caption_tokens([""])
        glyph_tokens = self._glyph_tokens(texts, boxes)

        with torch_seeded(seed + 2, self.device_):
            unet = copy.deepcopy(self.base_model_.unet)
            self.unet_ = widen_conv_in(unet, 2).to(self.device_)
            self.fusion_ = FusionTransformer(
                self.context_dim,
                self.context_dim,
                caption_tokens.shape[1],
                glyph_tokens.shape[1],
                self.fusion_layers,
            ).to(self.device_)
            self.unet_.requires_grad_(False)
            for name, param in self.unet_.named_parameters():
                if self.trainable == "all" or any(
                    k in name for k in GLYPHDRAW_UNET_PARAMS
                ):
                    param.requires_grad_(True)
            params = {
                f"unet.{n}": p
                for n, p in self.unet_.named_parameters()
                if p.requires_grad
            }
            if not self.glyph_tokens:  # the glyph projection never sees data
                self.fusion_.glyph_proj.requires_grad_(False)
            params.update(
                {
                    f"fusion.{n}": p
                    for n, p in self.fusion_.named_parameters()
                    if p.requires_grad
                }
            )
            self.trainable_param_names_ = sorted(params)
            scheduler = training_scheduler(self.prediction_type_)
            has_text = np.array([bool(t) for t in texts])
            pools = [(np.flatnonzero(has_text), 1.0 - self.no_text_fraction)]
            if self.no_text_fraction > 0:
                if has_text.all():
                    raise ValueError(
                        f"no_text_fraction={self.no_text_fraction} needs rows "
                        "without text in X (text == '')."
                    )
                pools.append((np.flatnonzero(~has_text), self.no_text_fraction))

            def loss_fn(batch):
                x0 = images[batch].to(self.device_)
                glyph = glyphs[batch].to(self.device_)
                mask = masks[batch].to(self.device_)
                captions = caption_tokens[batch].clone()
                drop_caption, drop_image = condition_dropout(
                    len(batch), self.condition_dropout, rng
                )
                captions[torch.as_tensor(drop_caption)] = null_caption
                keep = torch.as_tensor(~drop_image, dtype=x0.dtype)
                keep = keep.to(self.device_)[:, None, None, None]
                t = self._timesteps(scheduler, len(batch))
                x_t, target = noisy_input_and_target(scheduler, x0, t)
                predicted = self.unet_(
                    self._unet_input(x_t, glyph * keep, mask * keep),
                    t,
                    encoder_hidden_states=self._context(captions, glyph_tokens[batch]),
                ).sample
                loss = box_weighted_loss(predicted, target, mask, self.text_loss_weight)
                return loss, {"box_loss": in_box_error(predicted, target, mask)}

            self.unet_.train()
            self.fusion_.train()
            self._optimise(
                params,
                loss_fn,
                self._batches(self.glyph_steps, pools, rng),
                "glyphdraw",
                self.glyph_steps,
                self.lr,
                weight_decay=self.weight_decay,
            )
        self.unet_.requires_grad_(False).eval()
        self.fusion_.requires_grad_(False).eval()

    def _fit_mask_predictor(self, images, X, boxes, rng, seed):
        """Per-pixel MLP on the frozen GlyphDraw UNet's block features, fitted
        with MSE to the real masks at timesteps in [400, 700), the UNet seeing the
        glyph channel and an empty mask as it does at inference."""
        texts = list(X["text"])
        no_boxes = [None] * len(texts)
        glyphs = self._glyph_channels(texts, no_boxes)
        masks = self._masks(texts, boxes)
        caption_tokens = self._caption_tokens(X["caption"])
        glyph_tokens = self._glyph_tokens(texts, no_boxes)
        text_rows = np.flatnonzero([bool(t) for t in texts])
        scheduler = training_scheduler(self.prediction_type_)
        with torch_seeded(seed + 3, self.device_):
            predictor = MaskPredictor(feature_channels(self.unet_)).to(self.device_)

            def loss_fn(batch):
                x0 = images[batch].to(self.device_)
                glyph = glyphs[batch].to(self.device_)
                t = torch.randint(400, 700, (len(batch),), device=self.device_)
                x_t, _ = noisy_input_and_target(scheduler, x0, t)
                with torch.no_grad():
                    context = self._context(caption_tokens[batch], glyph_tokens[batch])
                    inputs = self._unet_input(x_t, glyph, torch.zeros_like(glyph))
                    features = unet_features(self.unet_, inputs, t, context)
                target = masks[batch].to(self.device_)
                return F.mse_loss(predictor(features, t), target)

            predictor.train()
            self._optimise(
                dict(predictor.named_parameters()),
                loss_fn,
                self._batches(self.mask_steps, [(text_rows, 1.0)], rng),
                "mask",
                self.mask_steps,
                1e-3,
                weight_decay=0.0,
            )
        return predictor.eval()
