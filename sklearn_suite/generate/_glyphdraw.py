"""GlyphDrawGenerator: glyph- and position-conditioned diffusion that draws Chinese
characters into images (Ma et al., arXiv 2303.17870).

The estimator's pieces live beside it: input checks (``_inputs``), the conditions
the UNet sees (``_conditions``), training (``_training``) and sampling
(``_sampling``)."""

import copy
import numbers
import os
from numbers import Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from sklearn_suite.base import (
    COMMON_CONSTRAINTS,
    NON_NEGATIVE,
    POSITIVE,
    POSITIVE_INT,
    PROBABILITY,
    TorchEstimatorMixin,
    check_device,
    check_seed,
    fit_method,
)
from sklearn_suite.datasets._glyph_scenes import find_cjk_font
from sklearn_suite.generate._conditions import GlyphConditions
from sklearn_suite.generate._diffusion import PREDICTION_TYPES
from sklearn_suite.generate._inputs import check_glyphs, check_images, check_scenes
from sklearn_suite.generate._mask import MaskPredictor, feature_channels
from sklearn_suite.generate._modules import (
    BaseDiffusion,
    CaptionEncoder,
    CaptionTokenizer,
    FusionTransformer,
    GlyphEncoder,
    build_unet,
    widen_conv_in,
)
from sklearn_suite.generate._sampling import GlyphDrawSampling
from sklearn_suite.generate._training import GlyphDrawTraining

_STAGES = ("glyphdraw", "base")
_TRAINABLE = ("cross_kv", "all")
_PLACEMENTS = ("box", "centre")


class GlyphDrawGenerator(
    GlyphDrawTraining,
    GlyphDrawSampling,
    GlyphConditions,
    TorchEstimatorMixin,
    BaseEstimator,
):
    """GlyphDraw: draw given Chinese characters at a given place with diffusion.

    ``fit`` first pretrains a small text-to-image base model (a diffusers
    ``UNet2DConditionModel`` with cross-attention to a caption Transformer) on the
    captions alone - it never sees where or which characters are drawn other
    than through the caption - standing in for the pretrained Stable Diffusion
    the paper starts from. The GlyphDraw stage then

    * widens the UNet's input conv by a glyph-image channel (the text drawn in
      its box, side by side when the box is wider than tall) and a
      position-mask channel, both zero-initialised;
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
    glyph_placement : {"box", "centre"}, default="box"
        Where the glyph channel shows the text. ``"box"`` draws it in the text
        box, the official code's ``HOMOGRAPHY`` option (the rendered text warped
        onto the text region; boxes here are axis-aligned); ``"centre"`` centres
        it on the canvas as the released training script does
        (``HOMOGRAPHY = False``), leaving the UNet to move the glyph to the
        box. Measured here: a UNet trained from scratch on glyph and mask
        channels alone read 0.50 at the box after 600 steps with ``"box"`` and
        0.09 with ``"centre"``. The glyph encoder always reads the centred
        image, as in the paper.
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
    base_lr : float, default=1e-3
    lr : float, default=1e-3
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
    eta : float in [0, 1], default=1.0
        DDIM's ``eta``: the share of DDPM's per-step noise the sampler adds
        (0 is deterministic DDIM, as diffusers' pipelines default to). Chosen
        on validation prompts (``benchmarks/results/glyphdraw_sampler.md``):
        with ``eta=1`` PP-OCR read 0.39 of the boxes where deterministic DDIM
        read 0.18 (the same model, 25 steps).
    guidance_text : float, default=2.0
        Caption guidance scale ``s_T`` (the paper's 7.5 suits Stable Diffusion;
        this small model breaks down above about 3).
    guidance_image : float, default=5.0
        Image-condition guidance scale ``s_I`` (the paper: 1.5 in training
        previews, 7.5 at test). Chosen on validation prompts: a larger ``s_I``
        sharpens the glyph's strokes; it does not act on prompts without text.
    ocr_model : GlyphRecognizer or None, default=None
        Recogniser used by ``score``: a fitted one is used as is, an unfitted
        one is copied and fitted in ``fit`` on the data's alphabet and image
        size, None fits a default one.
    font_path : str or None, default=None
        A font with CJK glyphs; None searches the system.
    callbacks : list of skorch callbacks, default=None
        Extra callbacks of the glyph encoder's net (the diffusion stages are
        hand-written loops).
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
    history_ : dict of str to skorch.History
        Per stage: ``"base"``, ``"glyphdraw"`` and ``"mask"`` (one entry per
        optimiser step of these hand-written diffusion loops, with
        ``train_loss``; ``"base"`` and ``"glyphdraw"`` also record ``box_loss``,
        the unweighted error inside the text boxes) and ``"glyph_encoder"``
        (one entry per epoch).

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
        *,
        stage="glyphdraw",
        base_model=None,
        unet_channels=(16, 32, 64),
        context_dim=64,
        caption_layers=2,
        fusion_layers=2,
        glyph_channels=True,
        glyph_tokens=True,
        glyph_placement="box",
        trainable="cross_kv",
        no_text_fraction=0.2,
        text_loss_weight=1.6,
        condition_dropout=(0.05, 0.05, 0.05),
        base_steps=1500,
        glyph_steps=1500,
        fit_mask_predictor=False,
        mask_steps=300,
        batch_size=32,
        base_lr=1e-3,
        lr=1e-3,
        weight_decay=0.1,
        ema_decay=0.995,
        caption_dropout=0.1,
        prediction_type="v_prediction",
        num_inference_steps=25,
        eta=1.0,
        guidance_text=2.0,
        guidance_image=5.0,
        ocr_model=None,
        font_path=None,
        callbacks=None,
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
        self.glyph_placement = glyph_placement
        self.trainable = trainable
        self.no_text_fraction = no_text_fraction
        self.text_loss_weight = text_loss_weight
        self.condition_dropout = condition_dropout
        self.base_steps = base_steps
        self.glyph_steps = glyph_steps
        self.fit_mask_predictor = fit_mask_predictor
        self.mask_steps = mask_steps
        self.batch_size = batch_size
        self.base_lr = base_lr
        self.lr = lr
        self.weight_decay = weight_decay
        self.ema_decay = ema_decay
        self.caption_dropout = caption_dropout
        self.prediction_type = prediction_type
        self.num_inference_steps = num_inference_steps
        self.eta = eta
        self.guidance_text = guidance_text
        self.guidance_image = guidance_image
        self.ocr_model = ocr_model
        self.font_path = font_path
        self.callbacks = callbacks
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    _parameter_constraints: dict = {
        "stage": [StrOptions(set(_STAGES))],
        "base_model": [HasMethods(["predict"]), None],
        "unet_channels": [tuple, list],
        "context_dim": [POSITIVE_INT],
        "caption_layers": [POSITIVE_INT],
        "fusion_layers": [POSITIVE_INT],
        "glyph_channels": ["boolean"],
        "glyph_tokens": ["boolean"],
        "glyph_placement": [StrOptions(set(_PLACEMENTS))],
        "trainable": [StrOptions(set(_TRAINABLE))],
        "no_text_fraction": [Interval(Real, 0, 1, closed="left")],
        "text_loss_weight": [POSITIVE],
        "condition_dropout": [tuple, list],
        "base_steps": [POSITIVE_INT],
        "glyph_steps": [POSITIVE_INT],
        "fit_mask_predictor": ["boolean"],
        "mask_steps": [POSITIVE_INT],
        "batch_size": [POSITIVE_INT],
        "base_lr": [POSITIVE],
        "lr": [POSITIVE],
        "weight_decay": [NON_NEGATIVE],
        "ema_decay": [Interval(Real, 0, 1, closed="neither"), None],
        "caption_dropout": [PROBABILITY],
        "prediction_type": [StrOptions(set(PREDICTION_TYPES))],
        "num_inference_steps": [POSITIVE_INT],
        "eta": [Interval(Real, 0, 1, closed="both")],
        "guidance_text": [NON_NEGATIVE],
        "guidance_image": [NON_NEGATIVE],
        "ocr_model": [HasMethods(["fit", "read"]), None],
        "font_path": [str, os.PathLike, None],
        **COMMON_CONSTRAINTS,
    }

    def _check_params(self):
        """What the declared constraints cannot say."""
        probs = np.asarray(self.condition_dropout, dtype=float)
        if probs.shape != (3,) or not np.all(probs >= 0) or probs.sum() > 1:
            raise ValueError(
                "condition_dropout must be 3 non-negative probabilities summing to at "
                f"most 1, got {self.condition_dropout!r}."
            )
        widths = tuple(self.unet_channels)
        if len(widths) < 2 or not all(
            isinstance(w, numbers.Integral) and w > 0 for w in widths
        ):
            raise ValueError(
                "unet_channels needs at least 2 positive int widths, got "
                f"{self.unet_channels!r}."
            )
        groups = min(8, *widths)
        if any(w % groups for w in widths):
            raise ValueError(
                f"unet_channels={widths}: every width must be divisible by the "
                f"group-norm size {groups} (the smallest width, at most 8)."
            )
        if self.base_model is not None and not (
            isinstance(self.base_model, GlyphDrawGenerator)
            and hasattr(self.base_model, "base_model_")
        ):
            raise TypeError("base_model must be a fitted GlyphDrawGenerator or None.")

    def _rebuild_modules(self):
        """For :meth:`load`: every network the fitted generator had, weights to be
        loaded."""
        size, dim = self.image_size_, self.context_dim
        caption_encoder = CaptionEncoder(
            self.tokenizer_.vocabulary_size, self.tokenizer_.max_length, dim,
            self.caption_layers,
        )  # fmt: skip
        unet = build_unet(size, self.unet_channels, dim)
        self.base_model_ = BaseDiffusion(caption_encoder, unet).to(self.device_)
        self.base_model_.requires_grad_(False).eval()
        if self.unet_ is not None:
            unet = build_unet(size, self.unet_channels, dim)
            self.unet_ = widen_conv_in(unet, 2).to(self.device_).eval()
            self.glyph_encoder_ = GlyphEncoder(len(self.alphabet_), dim=dim)
            self.glyph_encoder_ = self.glyph_encoder_.to(self.device_).eval()
            n_glyph = self._glyph_token_batch(torch.zeros(1, 1, size, size)).shape[1]
            self.fusion_ = FusionTransformer(
                dim, dim, self.tokenizer_.max_length, n_glyph, self.fusion_layers
            ).to(self.device_)
        if self.mask_predictor_ is not None:
            channels = feature_channels(self.unet_)
            self.mask_predictor_ = MaskPredictor(channels).to(self.device_)

    @fit_method
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
        X, boxes = check_scenes(X, training=True)
        images = check_images(X["image"], self.unet_channels)
        texts = list(X["text"])
        for i, (text, box) in enumerate(zip(texts, boxes, strict=True)):
            if text and box is None:
                raise ValueError(f"row {i} has text {text!r} but no box.")
        check_glyphs(texts, self.font_path_)
        self.image_size_ = images.shape[-1]
        self.alphabet_ = "".join(sorted({ch for t in texts for ch in t}))
        seed = check_seed(self.random_state)
        rng = np.random.RandomState(seed)
        self.history_ = {}

        if self.base_model is None:
            self.prediction_type_ = self.prediction_type
            self.tokenizer_ = CaptionTokenizer().fit(X["caption"])
            self.base_model_ = self._pretrain_base(
                images, list(X["caption"]), self._masks(texts, boxes), rng, seed
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
        return self

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
