"""GlyphDrawGenerator: glyph- and position-conditioned diffusion that draws Chinese
characters into images (Ma et al., arXiv 2303.17870)."""

import copy
import math

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from sklearn_suite.base import (
    TorchEstimatorMixin,
    check_device,
    check_seed,
    torch_seeded,
)
from sklearn_suite.datasets._glyph_scenes import (
    box_mask,
    find_cjk_font,
    font_has_glyphs,
    render_glyph_image,
)
from sklearn_suite.generate._diffusion import (
    PREDICTION_TYPES,
    box_weighted_loss,
    condition_dropout,
    ddim_sample,
    dual_guidance,
    noisy_input_and_target,
    to_uint8,
    training_scheduler,
)
from sklearn_suite.generate._mask import (
    MaskPredictor,
    feature_channels,
    mask_to_box,
    unet_features,
)
from sklearn_suite.generate._modules import (
    CaptionEncoder,
    CaptionTokenizer,
    FusionTransformer,
    GlyphEncoder,
    build_unet,
    widen_conv_in,
)
from sklearn_suite.generate._ocr import GlyphRecognizer

_STAGES = ("glyphdraw", "base")
_TRAINABLE = ("cross_kv", "all")
# UNet parameters GlyphDraw trains: the input conv and cross-attention keys/values
_GLYPHDRAW_UNET_PARAMS = ("conv_in.", "attn2.to_k.", "attn2.to_v.")


class BaseDiffusion(torch.nn.Module):
    """The text-to-image base model: caption encoder + UNet, trained together."""

    def __init__(self, caption_encoder, unet):
        super().__init__()
        self.caption_encoder = caption_encoder
        self.unet = unet


def _progress(total, desc, verbose):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False, disable=not verbose)


def _lr_lambda(warmup, total):
    """Linear warm-up, then linear (polynomial power 1) decay to 10%."""

    def factor(step):
        if step < warmup:
            return (step + 1) / warmup
        return max(0.1, 1.0 - 0.9 * (step - warmup) / max(total - warmup, 1))

    return factor


class GlyphDrawGenerator(TorchEstimatorMixin, BaseEstimator):
    """GlyphDraw: draw given Chinese characters at a given place with diffusion.

    ``fit`` first pretrains a small text-to-image base model (a diffusers
    ``UNet2DConditionModel`` with cross-attention to a caption Transformer) on the
    captions alone - it never sees where or which characters are drawn other
    than through the caption - standing in for the pretrained Stable Diffusion
    the paper starts from. The GlyphDraw stage then

    * widens the UNet's input conv by a glyph-image channel (the text rendered
      centred on an empty canvas, side by side when the box is wider than tall)
      and a position-mask channel, both zero-initialised;
    * encodes the glyph image with a frozen glyph encoder (a CNN pretrained here
      as a glyph classifier, standing in for Chinese-CLIP) into glyph tokens that a
      causal fusion Transformer merges with the caption tokens into the UNet's
      cross-attention context;
    * trains only the cross-attention keys and values, the input conv and the
      fusion module (``trainable="cross_kv"``), with the denoising loss weighted
      ``text_loss_weight`` inside the box, the three-way condition dropout and a
      fraction ``no_text_fraction`` of text-free images in every batch against
      forgetting.

    Sampling uses DDIM with seeded noise and GlyphDraw's dual classifier-free
    guidance. ``score`` reads the characters at the boxes with an independent
    recogniser (:class:`~sklearn_suite.generate.GlyphRecognizer`), trained on
    freshly rendered, augmented characters, never on the model's glyph encoder.

    Parameters
    ----------
    stage : {"glyphdraw", "base"}, default="glyphdraw"
        ``"base"`` stops after the base model: the text-only baseline that sees
        the characters only in the caption.
    base_model : GlyphDrawGenerator or None, default=None
        A fitted generator whose base model (and caption tokenizer) is reused
        instead of pretraining one.
    unet_channels : tuple of int, default=(16, 32, 64)
        UNet block widths; each block but the last halves the resolution.
    context_dim : int, default=64
        Width of caption, fused and cross-attention tokens.
    caption_layers : int, default=2
    fusion_layers : int, default=2
    glyph_channels : bool, default=True
        Feed the glyph image as a UNet input channel (False: ablation, the
        channel stays zero; the mask channel is kept).
    glyph_tokens : bool, default=True
        Fuse glyph tokens into the context (False: ablation, caption tokens only).
    trainable : {"cross_kv", "all"}, default="cross_kv"
        ``"all"`` fine-tunes the whole UNet (the forgetting comparison).
    no_text_fraction : float, default=0.2
        Share of text-free images in each GlyphDraw-stage batch.
    text_loss_weight : float, default=1.6
        Loss weight inside the text box.
    condition_dropout : tuple of 3 floats, default=(0.05, 0.05, 0.05)
        Probabilities of dropping the caption only, caption and image conditions,
        image conditions only.
    base_steps : int, default=1500
        Optimiser steps of the base model.
    glyph_steps : int, default=1500
        Optimiser steps of the GlyphDraw stage.
    fit_mask_predictor : bool, default=False
        Also train GlyphDraw's optional mask predictor, which places the text
        when a row has no box.
    mask_steps : int, default=300
        Optimiser steps of the mask predictor.
    batch_size : int, default=32
    base_learning_rate : float, default=1e-3
    learning_rate : float, default=1e-3
        GlyphDraw-stage AdamW learning rate (after 100 warm-up steps, decayed
        linearly); the paper's 4e-5 suits a pretrained billion-parameter model.
    weight_decay : float, default=0.1
    ema_decay : float or None, default=0.995
        Exponential moving average of the trained weights (diffusers'
        ``EMAModel``, with its warm-up), used for sampling as in Stable
        Diffusion's training; None keeps the last weights.
    caption_dropout : float, default=0.1
        Share of null captions while pretraining the base (for guidance).
    prediction_type : {"v_prediction", "epsilon"}, default="v_prediction"
        What the base UNet predicts (the GlyphDraw stage keeps its base's). The
        paper's models predict the noise; in pixel space at this scale that
        leaves the caption almost no gradient at the high-noise steps where the
        global colour is decided (measured: the base ignored its captions), so
        the default is Stable Diffusion 2's v-prediction.
    num_inference_steps : int, default=25
        DDIM steps.
    guidance_text : float, default=2.0
        Caption guidance scale ``s_T`` (the paper's 7.5 suits Stable Diffusion;
        this small model breaks down above about 3).
    guidance_image : float, default=2.0
        Image-condition guidance scale ``s_I``.
    ocr_model : GlyphRecognizer or None, default=None
        Recogniser used by ``score``: a fitted one is used as is, an unfitted
        one is copied and fitted in ``fit`` on the data's alphabet and image
        size, None fits a default one.
    font_path : str or None, default=None
        A font with CJK glyphs; None searches the system.
    device : str, default="cpu"
    verbose : int, default=0
        1 shows a progress bar per stage.
    random_state : None, int or RandomState, default=None
        Seeds training and, in ``predict``, the initial noise.

    Attributes
    ----------
    base_model_ : BaseDiffusion
        Caption encoder + UNet of the base model.
    tokenizer_ : CaptionTokenizer
    unet_ : diffusers.UNet2DConditionModel or None
        The widened GlyphDraw UNet (None for ``stage="base"``).
    fusion_ : FusionTransformer or None
    glyph_encoder_ : GlyphEncoder or None
    mask_predictor_ : MaskPredictor or None
        Fitted when ``fit_mask_predictor=True``.
    ocr_model_ : GlyphRecognizer
    trainable_param_names_ : list of str
        Names (prefixed ``unet.`` / ``fusion.``) of the parameters the GlyphDraw
        stage optimised.
    alphabet_ : str
        Characters of the training texts.
    image_size_ : int
    prediction_type_ : str
        The UNet's prediction target (the base model's).
    font_path_ : str
    loss_history_ : pandas.DataFrame
        ``stage``, ``step``, ``loss`` per optimiser step.

    Examples
    --------
    >>> from sklearn_suite import GlyphDrawGenerator
    >>> from sklearn_suite.datasets import make_glyph_scenes
    >>> from sklearn_suite.generate import GlyphRecognizer
    >>> X = make_glyph_scenes(40, image_size=16, random_state=0)
    >>> gen = GlyphDrawGenerator(unet_channels=(8, 16), context_dim=16,
    ...                          base_steps=2, glyph_steps=2, batch_size=8,
    ...                          num_inference_steps=2,
    ...                          ocr_model=GlyphRecognizer(n_scenes=100, max_epochs=1),
    ...                          random_state=0)
    >>> gen = gen.fit(X)
    >>> gen.predict(X.head(3)).shape
    (3, 16, 16, 3)

    References
    ----------
    .. [1] J. Ma, M. Zhao, C. Chen, R. Wang, D. Niu, H. Lu, X. Lin. "GlyphDraw:
       Seamlessly Rendering Text with Intricate Spatial Structures in Text-to-Image
       Generation." arXiv:2303.17870, 2023.
    """

    def __init__(
        self,
        stage="glyphdraw",
        base_model=None,
        unet_channels=(16, 32, 64),
        context_dim=64,
        caption_layers=2,
        fusion_layers=2,
        glyph_channels=True,
        glyph_tokens=True,
        trainable="cross_kv",
        no_text_fraction=0.2,
        text_loss_weight=1.6,
        condition_dropout=(0.05, 0.05, 0.05),
        base_steps=1500,
        glyph_steps=1500,
        fit_mask_predictor=False,
        mask_steps=300,
        batch_size=32,
        base_learning_rate=1e-3,
        learning_rate=1e-3,
        weight_decay=0.1,
        ema_decay=0.995,
        caption_dropout=0.1,
        prediction_type="v_prediction",
        num_inference_steps=25,
        guidance_text=2.0,
        guidance_image=2.0,
        ocr_model=None,
        font_path=None,
        device="cpu",
        verbose=0,
        random_state=None,
    ):
        self.stage = stage
        self.base_model = base_model
        self.unet_channels = unet_channels
        self.context_dim = context_dim
        self.caption_layers = caption_layers
        self.fusion_layers = fusion_layers
        self.glyph_channels = glyph_channels
        self.glyph_tokens = glyph_tokens
        self.trainable = trainable
        self.no_text_fraction = no_text_fraction
        self.text_loss_weight = text_loss_weight
        self.condition_dropout = condition_dropout
        self.base_steps = base_steps
        self.glyph_steps = glyph_steps
        self.fit_mask_predictor = fit_mask_predictor
        self.mask_steps = mask_steps
        self.batch_size = batch_size
        self.base_learning_rate = base_learning_rate
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.ema_decay = ema_decay
        self.caption_dropout = caption_dropout
        self.prediction_type = prediction_type
        self.num_inference_steps = num_inference_steps
        self.guidance_text = guidance_text
        self.guidance_image = guidance_image
        self.ocr_model = ocr_model
        self.font_path = font_path
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    # ------------------------------------------------------------------ input
    def _check_params(self):
        if self.stage not in _STAGES:
            raise ValueError(f"stage must be one of {_STAGES}, got {self.stage!r}.")
        if self.trainable not in _TRAINABLE:
            raise ValueError(
                f"trainable must be one of {_TRAINABLE}, got {self.trainable!r}."
            )
        if not 0.0 <= self.no_text_fraction < 1.0:
            raise ValueError(
                f"no_text_fraction must be in [0, 1), got {self.no_text_fraction!r}."
            )
        probs = tuple(self.condition_dropout)
        if len(probs) != 3 or min(probs) < 0 or sum(probs) > 1:
            raise ValueError(
                "condition_dropout must be 3 non-negative probabilities summing to at "
                f"most 1, got {self.condition_dropout!r}."
            )
        if self.prediction_type not in PREDICTION_TYPES:
            raise ValueError(
                f"prediction_type must be one of {PREDICTION_TYPES}, "
                f"got {self.prediction_type!r}."
            )
        if len(self.unet_channels) < 2:
            raise ValueError(
                f"unet_channels needs at least 2 widths, got {self.unet_channels!r}."
            )
        if self.base_model is not None and not (
            isinstance(self.base_model, GlyphDrawGenerator)
            and hasattr(self.base_model, "base_model_")
        ):
            raise TypeError("base_model must be a fitted GlyphDrawGenerator or None.")

    def _check_X(self, X, *, training):
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
        boxes = [self._check_box(b, i) for i, b in enumerate(X["box"])]
        return X, boxes

    @staticmethod
    def _check_box(box, row):
        if box is None or (isinstance(box, float) and math.isnan(box)):
            return None
        values = np.asarray(box, dtype=float)
        if values.shape != (4,):
            raise ValueError(f"box of row {row} must be (x0, y0, x1, y1), got {box!r}.")
        if not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > 1:
            raise ValueError(f"box of row {row} must lie in [0, 1], got {box!r}.")
        if values[0] >= values[2] or values[1] >= values[3]:
            raise ValueError(
                f"box of row {row} needs x0 < x1 and y0 < y1, got {box!r}."
            )
        return tuple(float(v) for v in values)

    def _check_glyphs(self, texts):
        missing = sorted(
            {ch for t in texts for ch in t if not font_has_glyphs(self.font_path_, ch)}
        )
        if missing:
            raise ValueError(
                f"text has characters with no glyph in the font {self.font_path_!r}: "
                f"{''.join(missing)!r}."
            )

    def _check_images(self, column):
        images = list(column)
        first = np.asarray(images[0])
        if first.ndim != 3 or first.shape[2] != 3 or first.shape[0] != first.shape[1]:
            raise ValueError(
                "image must be a square H x W x 3 uint8 array, "
                f"got shape {first.shape}."
            )
        if first.shape[0] < 8 or first.shape[0] % 2 ** (len(self.unet_channels) - 1):
            raise ValueError(
                f"image side {first.shape[0]} must be >= 8 and divisible by "
                f"{2 ** (len(self.unet_channels) - 1)} for "
                f"unet_channels={self.unet_channels}."
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

    # ---------------------------------------------------------- conditions
    def _glyph_images(self, texts, boxes):
        """Glyph images: text centred, side by side unless the box is taller."""
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

    def _context(self, caption_tokens, glyph_tokens):
        return self.fusion_(caption_tokens, glyph_tokens if self.glyph_tokens else None)

    def _unet_input(self, x, glyph, mask):
        if not self.glyph_channels:
            glyph = torch.zeros_like(glyph)
        return torch.cat([x, glyph, mask], dim=1)

    # ---------------------------------------------------------------- fit
    def fit(self, X, y=None):
        """Pretrain the base model (unless given), then run the GlyphDraw stage.

        Parameters
        ----------
        X : pandas.DataFrame or dict
            Columns ``image`` (H x W x 3 uint8), ``caption`` (str), ``text`` (str,
            "" for no text) and ``box`` ((x0, y0, x1, y1) in [0, 1], or None).
        y : None
            Ignored.

        Returns
        -------
        self : GlyphDrawGenerator
        """
        self._check_params()
        self.device_ = check_device(self.device)
        self.font_path_ = find_cjk_font(self.font_path)
        X, boxes = self._check_X(X, training=True)
        images = self._check_images(X["image"])
        texts = list(X["text"])
        for i, (text, box) in enumerate(zip(texts, boxes, strict=True)):
            if text and box is None:
                raise ValueError(f"row {i} has text {text!r} but no box.")
        self._check_glyphs(texts)
        self.image_size_ = images.shape[-1]
        self.alphabet_ = "".join(sorted({ch for t in texts for ch in t}))
        seed = check_seed(self.random_state)
        rng = np.random.RandomState(seed)
        self.loss_history_ = []

        if self.base_model is None:
            self.prediction_type_ = self.prediction_type
            self.tokenizer_ = CaptionTokenizer().fit(X["caption"])
            self.base_model_ = self._pretrain_base(
                images, list(X["caption"]), rng, seed
            )
        else:
            self.tokenizer_ = self.base_model.tokenizer_
            self.prediction_type_ = self.base_model.prediction_type_
            self.base_model_ = copy.deepcopy(self.base_model.base_model_).to(
                self.device_
            )
        self.base_model_.requires_grad_(False).eval()

        self.ocr_model_ = self._fit_ocr(seed)
        self.unet_ = self.fusion_ = self.glyph_encoder_ = None
        self.mask_predictor_ = None
        self.trainable_param_names_ = []
        if self.stage == "glyphdraw":
            if not self.alphabet_:
                raise ValueError(
                    "The GlyphDraw stage needs rows with text; all texts are empty."
                )
            self._fit_glyphdraw(images, X, boxes, rng, seed)
            if self.fit_mask_predictor:
                self.mask_predictor_ = self._fit_mask_predictor(
                    images, X, boxes, rng, seed
                )
        self.loss_history_ = pd.DataFrame(
            self.loss_history_, columns=["stage", "step", "loss"]
        )
        return self

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
        """AdamW with 100 warm-up steps and linear decay over ``params`` (a
        name -> parameter dict); the weights end as their EMA when
        ``ema_decay`` is set."""
        from diffusers.training_utils import EMAModel

        params = list(params.values())
        optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimiser, _lr_lambda(100, n_steps)
        )
        ema = EMAModel(params, decay=self.ema_decay) if self.ema_decay else None
        with _progress(n_steps, stage, self.verbose) as bar:
            for step, batch in enumerate(batches):
                loss = loss_fn(batch)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
                if ema is not None:
                    ema.step(params)
                self.loss_history_.append((stage, step, loss.item()))
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.4f}")
        if ema is not None:
            ema.copy_to(params)

    def _pretrain_base(self, images, captions, rng, seed):
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
                return F.mse_loss(predicted, target)

            pool = np.arange(len(images))
            base.train()
            self._optimise(
                dict(base.named_parameters()),
                loss_fn,
                self._batches(self.base_steps, [(pool, 1.0)], rng),
                "base",
                self.base_steps,
                self.base_learning_rate,
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
        glyphs = torch.as_tensor(
            np.stack(
                [
                    render_glyph_image(t, self.image_size_, self.font_path_, h)
                    for t, h in zip(texts, horizontal, strict=True)
                ]
            )
        )[:, None]
        targets = torch.zeros(n, len(alphabet))
        for i, t in enumerate(texts):
            for ch in t:
                targets[i, alphabet.index(ch)] = 1.0
        with torch_seeded(seed + 1, self.device_):
            encoder = GlyphEncoder(len(alphabet), dim=self.context_dim).to(self.device_)
            optimiser = torch.optim.Adam(encoder.parameters(), lr=2e-3)
            for _ in range(4):
                for batch in torch.randperm(n).split(64):
                    logits = encoder(glyphs[batch].to(self.device_))
                    loss = F.binary_cross_entropy_with_logits(
                        logits, targets[batch].to(self.device_)
                    )
                    optimiser.zero_grad()
                    loss.backward()
                    optimiser.step()
        return encoder.requires_grad_(False).eval()

    def _fit_glyphdraw(self, images, X, boxes, rng, seed):
        texts = list(X["text"])
        self.glyph_encoder_ = self._pretrain_glyph_encoder(rng, seed)
        glyphs, masks = self._glyph_images(texts, boxes), self._masks(texts, boxes)
        caption_tokens = self._caption_tokens(X["caption"])
        null_caption = self._caption_tokens([""])
        glyph_tokens = self._glyph_token_batch(glyphs)

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
                    k in name for k in _GLYPHDRAW_UNET_PARAMS
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
                return box_weighted_loss(predicted, target, mask, self.text_loss_weight)

            self.unet_.train()
            self.fusion_.train()
            self._optimise(
                params,
                loss_fn,
                self._batches(self.glyph_steps, pools, rng),
                "glyphdraw",
                self.glyph_steps,
                self.learning_rate,
                weight_decay=self.weight_decay,
            )
        self.unet_.requires_grad_(False).eval()
        self.fusion_.requires_grad_(False).eval()

    def _fit_mask_predictor(self, images, X, boxes, rng, seed):
        """Per-pixel MLP on the frozen GlyphDraw UNet's block features, fitted
        with MSE to the real masks at timesteps in [400, 700), the UNet seeing the
        glyph channel and an empty mask as it does at inference."""
        texts = list(X["text"])
        glyphs = self._glyph_images(texts, [None] * len(texts))
        masks = self._masks(texts, boxes)
        caption_tokens = self._caption_tokens(X["caption"])
        glyph_tokens = self._glyph_token_batch(glyphs)
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

    # ------------------------------------------------------------ predict
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

    def predict(self, X):
        """Generate one image per row.

        Parameters
        ----------
        X : pandas.DataFrame or dict
            Columns ``caption``, ``text`` and optionally ``box`` (None draws a
            random box for rows with text).

        Returns
        -------
        images : ndarray of shape (n, H, W, 3), uint8
        """
        images, _ = self._generate(X)
        return images

    @torch.no_grad()
    def _generate(self, X):
        check_is_fitted(self, "base_model_")
        X, boxes = self._check_X(X, training=False)
        texts = list(X["text"])
        self._check_glyphs(texts)
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
                        texts[rows], chunk_boxes, captions, null, noise
                    )
                chunk_boxes = self._prompt_boxes(texts[rows], chunk_boxes, rng)
                glyph = self._glyph_images(texts[rows], chunk_boxes)
                mask = self._masks(texts[rows], chunk_boxes)
                denoise = self._glyphdraw_denoiser(captions, null, glyph, mask)
            out.append(
                ddim_sample(
                    denoise, noise, self.num_inference_steps, self.prediction_type_
                )
            )
            out_boxes += chunk_boxes
        return to_uint8(torch.cat(out)), out_boxes

    def _predict_boxes(self, texts, boxes, captions, null, noise):
        """GlyphDraw's mask prediction: denoise 40% of the way with an empty mask
        (20 of 50 steps in the paper), read the mask off the UNet's features, and
        let the caller restart from the same noise with it."""
        needs = [bool(t) and b is None for t, b in zip(texts, boxes, strict=True)]
        if not any(needs):
            return boxes
        glyph = self._glyph_images(texts, [None] * len(texts))
        empty = torch.zeros_like(glyph)
        denoise = self._glyphdraw_denoiser(captions, null, glyph, empty)
        stop = max(1, round(0.4 * self.num_inference_steps))
        x_t, t = ddim_sample(
            denoise, noise, self.num_inference_steps, self.prediction_type_, stop
        )
        glyph = glyph.to(self.device_)
        context = self._context(captions, self._glyph_token_batch(glyph))
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

    def _glyphdraw_denoiser(self, captions, null, glyph, mask):
        glyph, mask = glyph.to(self.device_), mask.to(self.device_)
        glyph_tokens = self._glyph_token_batch(glyph)
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

    # -------------------------------------------------------------- score
    def read_text(self, X):
        """Generate ``X`` and read the characters at its boxes with ``ocr_model_``.

        Parameters
        ----------
        X : pandas.DataFrame or dict
            As for :meth:`predict`.

        Returns
        -------
        images : ndarray of shape (n, H, W, 3), uint8
        texts : list of str
            What the recogniser reads at each box ("" for rows without text).
        """
        images, boxes = self._generate(X)
        if self.ocr_model_ is None:
            raise ValueError("No recogniser: fit saw no text and ocr_model is None.")
        lengths = [len(t) for t in pd.DataFrame(X)["text"]]
        return images, self.ocr_model_.read(images, boxes, lengths)

    def score(self, X, y=None):
        """OCR exact-match accuracy of the generated text at the boxes.

        Parameters
        ----------
        X : pandas.DataFrame or dict
            As for :meth:`predict`; only rows with text count.
        y : None
            Ignored.

        Returns
        -------
        accuracy : float
        """
        from sklearn_suite.metrics import ocr_accuracy

        _, read = self.read_text(X)
        texts = list(pd.DataFrame(X)["text"])
        rows = [i for i, t in enumerate(texts) if t]
        if not rows:
            raise ValueError("score needs rows with text; all texts are empty.")
        return ocr_accuracy([texts[i] for i in rows], [read[i] for i in rows])
