"""MulcoTagger: Chinese nested NER through multiple scopes (Mulco)."""

from numbers import Integral, Real

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from sklearn_suite.ner._base import CharTaggerBase
from sklearn_suite.ner._modules import MulcoNet
from sklearn_suite.ner._scopes import SEQUENCES, decode_scopes_batch, encode_scopes

_SCOPES = ("B", "BE", "BEC")


IGNORE = -100  # target of padded positions, and of lengths off entity anchors


def mulco_batch(lengths, targets):
    """Per-sentence (category, length) sequences -> padded tensors per sequence;
    the length target is ``IGNORE`` wherever the category is O."""
    longest = max(1, int(lengths.max()))
    y = {}
    for name in targets[0]:
        width = 2 * longest - 1 if name[0] == "C" else longest
        cats = torch.full((len(targets), width), IGNORE)
        lens = torch.full((len(targets), width), IGNORE)
        for i, t in enumerate(targets):
            cat, length = t[name]
            cats[i, : len(cat)] = cat
            lens[i, : len(cat)] = torch.where(cat != 0, length, IGNORE)
        y[name] = (cats, lens)
    return {}, y


class MulcoLoss(nn.Module):
    """Sum over the six sequences of the category cross-entropy at every position
    and the length cross-entropy at entity anchors only."""

    def forward(self, outputs, targets):
        loss = 0.0
        for name, (cat_logits, len_logits) in outputs.items():
            cats, lens = targets[name]
            loss = loss + F.cross_entropy(
                cat_logits.reshape(-1, cat_logits.shape[-1]),
                cats.reshape(-1),
                ignore_index=IGNORE,
            )
            if (lens != IGNORE).any():
                loss = loss + F.cross_entropy(
                    len_logits.reshape(-1, len_logits.shape[-1]),
                    lens.reshape(-1),
                    ignore_index=IGNORE,
                )
        return loss


class MulcoTagger(CharTaggerBase):
    """Nested named-entity recognition with Mulco's multiple anchor scopes.

    Every entity is written down at its begin (B), end (E) and centre (C, over
    the 2L - 1 characters and gaps) anchors; each anchor carries the (category,
    length) of the shortest and of the longest entity anchored there: six label
    sequences. A character encoder (embeddings trained from scratch and a BiLSTM,
    or a small Transformer) feeds one head per sequence; the category loss runs
    over all positions and the length loss only at entity anchors. Prediction is
    the union of the spans decoded from all six sequences, a span predicted with
    two labels keeping the more confident one.

    Parameters
    ----------
    scopes : {"B", "BE", "BEC"}, default="BEC"
        Scopes used (ablations).
    emb_dim : int, default=128
        Character embedding size.
    hidden : int, default=128
        Encoder width per direction.
    lstm_layers : int, default=2
        Encoder layers.
    encoder : str, default="bilstm"
        ``"bilstm"`` or ``"transformer"`` (trained from scratch), or the name or
        local directory of a Hugging Face model (``pip install transformers``;
        e.g. a downloaded ``bert-base-chinese``, as in the paper): one token per
        character, the model's states feed a BiLSTM of ``lstm_layers`` layers,
        and the whole is fine-tuned.
    pretrained_lr : float, default=2e-5
        Learning rate of the pretrained model's weights (the paper's); ``lr``
        applies to the rest. Unused with the built-in encoders.
    latent : int, default=128
        Width of each head's GELU layer.
    max_entity_length : int, default=40
        Length classes 0..max_entity_length; longer entities are clipped.
    max_length : int, default=512
        Longest sentence accepted; longer ones raise ValueError.
    dropout : float, default=0.3
    max_epochs : int, default=50
        The paper's 50, also chosen by validation on ChiNesE (F1 0.473 against
        0.424 for 30, 800 / 200 split of the dev file).
    batch_size : int, default=32
    lr : float, default=1e-2
        AdamW learning rate, with 1% linear warmup then linear decay.
    weight_decay : float, default=0.05
    bigrams : bool, default=False
        Also embed each character's bigram (``text[i:i+2]``).
    lexicon : None, "jieba" or dict of str to float, default=None
        Dictionary of the SoftLexicon features: each character gets the
        frequency-weighted embeddings of the dictionary words it begins, is
        inside, ends or is (``"jieba"``: the dictionary the jieba wheel ships,
        ``pip install jieba``; a dict maps words to frequencies).
    min_confidence : float, default=0.0
        Decoding: an anchor's (category, length) label less probable than this
        gives no span. 0 is the paper's union of all six sequences. Only
        ``predict`` reads it, so it can be tuned after ``fit`` (``set_params``).
    min_votes : int, default=1
        Decoding: a span must be given by at least this many of the six
        sequences (1: the paper's union). Only ``predict`` reads it.
    predict_dtype : {"auto", "float32", "bfloat16"}, default="auto"
        Precision of ``predict``: ``"bfloat16"`` runs the encoder and heads
        under ``torch.autocast`` in bfloat16, ``"float32"`` does not, and
        ``"auto"`` uses bfloat16 only where the hardware computes it natively
        (a CPU with AVX512-BF16 or AMX, a CUDA GPU with bf16). Training is
        always float32. Only ``predict`` reads it (``set_params`` after ``fit``).
    warm_start : bool, default=False
        When fitted already, ``fit`` continues training the fitted net for
        ``max_epochs`` more epochs (same entity types; characters new to it
        are read as unknown; the learning-rate schedule restarts).
    callbacks : list of skorch callbacks, default=None
        Extra callbacks of the training net (they see every epoch).
    device : str, default="cpu"
    verbose : int, default=0
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    classes_ : ndarray of str
        Entity types.
    char_vocab_ : dict of str to int
        Character ids (0 padding, 1 unknown).
    features_ : TextFeatures
        The fitted featurizer (character, bigram and word vocabularies).
    net_ : skorch.NeuralNet
        The trained net; ``module_`` is its :class:`MulcoNet`.
    history_ : skorch.History
        Per-epoch training loss (``history_[:, "train_loss"]``).

    References
    ----------
    .. [1] Yang, Luo, Guo, Chen, Niu and Xu, "Mulco: Recognizing Chinese Nested
       Named Entities through Multiple Scopes", CIKM 2023.

    Examples
    --------
    >>> from sklearn_suite import MulcoTagger
    >>> from sklearn_suite.datasets import make_nested_ner
    >>> X, y = make_nested_ner(60, random_state=0)
    >>> tagger = MulcoTagger(max_epochs=2, hidden=32, emb_dim=32, latent=32,
    ...                      random_state=0).fit(X, y)
    >>> len(tagger.predict(X[:3]))
    3
    """

    _parameter_constraints: dict = {
        **CharTaggerBase._parameter_constraints,
        "scopes": [StrOptions(set(_SCOPES))],
        "min_confidence": [Interval(Real, 0, 1, closed="left")],
        "min_votes": [Interval(Integral, 1, 6, closed="both")],
    }

    def __init__(
        self,
        *,
        scopes="BEC",
        emb_dim=128,
        hidden=128,
        lstm_layers=2,
        encoder="bilstm",
        pretrained_lr=2e-5,
        latent=128,
        max_entity_length=40,
        max_length=512,
        dropout=0.3,
        max_epochs=50,
        batch_size=32,
        lr=1e-2,
        weight_decay=0.05,
        bigrams=False,
        lexicon=None,
        min_confidence=0.0,
        min_votes=1,
        predict_dtype="auto",
        warm_start=False,
        callbacks=None,
        device="cpu",
        verbose=0,
        random_state=None,
    ):
        self.scopes = scopes
        self.emb_dim = emb_dim
        self.hidden = hidden
        self.lstm_layers = lstm_layers
        self.encoder = encoder
        self.pretrained_lr = pretrained_lr
        self.latent = latent
        self.max_entity_length = max_entity_length
        self.max_length = max_length
        self.dropout = dropout
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.bigrams = bigrams
        self.lexicon = lexicon
        self.min_confidence = min_confidence
        self.min_votes = min_votes
        self.predict_dtype = predict_dtype
        self.warm_start = warm_start
        self.callbacks = callbacks
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    def _build_module(self, load_weights=True):
        return MulcoNet(
            self._encoder(load_weights),
            len(self.classes_) + 1,
            self.max_entity_length,
            self.latent,
            self.scopes,
        )

    def _targets(self, text_len, entities):
        index = self._label_index()
        sequences = encode_scopes(
            text_len,
            entities,
            max_entity_length=self.max_entity_length,
            scopes=self.scopes,
        )
        return {
            name: (
                torch.tensor([index.get(c, 0) for c in labels]),
                torch.as_tensor(lengths),
            )
            for name, (labels, lengths) in sequences.items()
        }

    def _batch(self):
        return mulco_batch

    def _criterion(self):
        return MulcoLoss

    def _decode(self, module, inputs):
        classes = np.array([None, *self.classes_.tolist()], dtype=object)
        sequences, confidences = {}, {}
        for name, (cat, length, conf) in module.labels(**inputs).items():
            sequences[name] = (classes[cat.cpu().numpy()], length.cpu().numpy())
            confidences[name] = conf.cpu().numpy()
        return decode_scopes_batch(
            inputs["lengths"].tolist(),
            sequences,
            confidences,
            min_confidence=self.min_confidence,
            min_votes=self.min_votes,
        )


__all__ = ["MulcoTagger", "SEQUENCES"]
