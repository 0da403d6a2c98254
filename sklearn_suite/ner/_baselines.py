"""Baselines for MulcoTagger with the same encoder: a flat BIES tagger and a
span-enumeration classifier."""

import math

import torch
from torch import nn

from sklearn_suite.ner._base import CharTaggerBase
from sklearn_suite.ner._modules import BIESNet, SpanNet, enumerate_spans

IGNORE = -100  # target of padded positions (torch's ignore_index)

_COMMON_DOC = """
    Parameters
    ----------
    emb_dim : int, default=128
    hidden : int, default=128
    lstm_layers : int, default=2
    encoder : str, default="bilstm"
        ``"bilstm"``, ``"transformer"`` or a Hugging Face model name or
        directory (see MulcoTagger).
    pretrained_lr : float, default=2e-5
    latent : int, default=128
    max_entity_length : int, default=40
    max_length : int, default=512
    dropout : float, default=0.3
    max_epochs : int, default=30
    batch_size : int, default=32
    lr : float, default=1e-2
    weight_decay : float, default=0.05
    bigrams : bool, default=False
        Also embed each character's bigram.
    lexicon : None, "jieba" or dict of str to float, default=None
        Dictionary of the SoftLexicon word-set features (see MulcoTagger).
    predict_dtype : {"auto", "float32", "bfloat16"}, default="auto"
        Precision of ``predict``; ``"auto"`` is bfloat16 where the hardware
        computes it natively (see MulcoTagger).
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
    char_vocab_ : dict of str to int
    features_ : TextFeatures
    net_ : skorch.NeuralNet
        The trained net; ``module_`` is its module.
    history_ : skorch.History
        Per-epoch training loss (``history_[:, "train_loss"]``).

    References
    ----------
    .. [1] Yang et al., "Mulco: Recognizing Chinese Nested Named Entities through
       Multiple Scopes", CIKM 2023 (the baselines it compares against).

    Examples
    --------
    >>> from sklearn_suite.datasets import make_nested_ner
    >>> X, y = make_nested_ner(40, random_state=0)
    >>> tagger = {name}(max_epochs=1, hidden=16, emb_dim=16, latent=16,
    ...                 random_state=0).fit(X, y)
    >>> len(tagger.predict(X[:2]))
    2
"""


class _SameEncoderTagger(CharTaggerBase):
    def __init__(
        self,
        *,
        emb_dim=128,
        hidden=128,
        lstm_layers=2,
        encoder="bilstm",
        pretrained_lr=2e-5,
        latent=128,
        max_entity_length=40,
        max_length=512,
        dropout=0.3,
        max_epochs=30,
        batch_size=32,
        lr=1e-2,
        weight_decay=0.05,
        bigrams=False,
        lexicon=None,
        predict_dtype="auto",
        warm_start=False,
        callbacks=None,
        device="cpu",
        verbose=0,
        random_state=None,
    ):
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
        self.predict_dtype = predict_dtype
        self.warm_start = warm_start
        self.callbacks = callbacks
        self.device = device
        self.verbose = verbose
        self.random_state = random_state


def flat_subset(entities):
    """The outermost entities, then longest first without overlaps: what a flat
    tagger can be taught."""
    ordered = sorted(entities, key=lambda t: (-(t[1] - t[0]), t[0], t[2]))
    chosen = []
    for s, e, c in ordered:
        if all(e <= s2 or e2 <= s for s2, e2, _ in chosen):
            chosen.append((s, e, c))
    return sorted(chosen)


class TokenCrossEntropy(nn.Module):
    """Cross-entropy over every real (non-padded) position of ``(n, L, C)``
    logits, padded positions marked ``IGNORE`` in the targets."""

    def forward(self, logits, tags):
        return nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), tags.reshape(-1), ignore_index=IGNORE
        )


def pad_tags(lengths, targets):
    """Per-sentence tag tensors -> ``(n, longest)``, padded with ``IGNORE``."""
    tags = torch.full((len(targets), max(1, int(lengths.max()))), IGNORE)
    for i, t in enumerate(targets):
        tags[i, : len(t)] = t
    return {}, tags


# negatives per character of a sentence (Li et al., "Empirical Analysis of
# Unlabeled Entity Problem in Named Entity Recognition", ICLR 2021)
NEGATIVE_RATE = 0.35


class SpanBatch:
    """Training spans of a batch and their gold types: every gold span and
    ``ceil(NEGATIVE_RATE * n)`` random non-entity spans per ``n``-character
    sentence. Trained on all ``~n * max_width`` spans, over 99% of them O, the
    classifier collapses to "no entity"; negative sampling keeps the classes
    balanced. (Draws come from torch's RNG, seeded for the fit.)

    Returns ``spans`` as ``(n, K, 3)`` rows of (sentence, start, end inclusive)
    and the gold types ``(n, K)``, padded with ``IGNORE`` (skorch batches need
    one row per sentence)."""

    def __init__(self, max_width, negative_rate=NEGATIVE_RATE):
        self.max_width = max_width
        self.negative_rate = negative_rate

    def __call__(self, lengths, targets):
        spans = enumerate_spans(lengths, self.max_width)
        gold = torch.tensor(
            [targets[b].get((s, e), 0) for b, s, e in spans.tolist()],
            dtype=torch.long,
        )
        chosen = []
        for b, length in enumerate(lengths.tolist()):
            mine = torch.nonzero(spans[:, 0] == b).flatten()
            positive, negative = mine[gold[mine] != 0], mine[gold[mine] == 0]
            n = min(len(negative), math.ceil(self.negative_rate * length))
            chosen.append(
                torch.cat([positive, negative[torch.randperm(len(negative))[:n]]])
            )
        width = max(1, max(len(c) for c in chosen))
        out_spans = torch.zeros(len(chosen), width, 3, dtype=torch.long)
        out_gold = torch.full((len(chosen), width), IGNORE)
        for b, rows in enumerate(chosen):
            out_spans[b, :, 0] = b  # padding rows point at (b, 0, 0), ignored
            out_spans[b, : len(rows)] = spans[rows]
            out_gold[b, : len(rows)] = gold[rows]
        return {"spans": out_spans}, out_gold


class SpanCrossEntropy(nn.Module):
    """Cross-entropy of the ``(n * K, C)`` span logits against ``(n, K)`` gold
    types, padding ignored."""

    def forward(self, logits, gold):
        return nn.functional.cross_entropy(
            logits, gold.reshape(-1), ignore_index=IGNORE
        )


class FlatBIESTagger(_SameEncoderTagger):
    __doc__ = """Flat BIES tagger (a baseline): one tag per character, so it
    learns the outermost non-overlapping entities and can never predict nested
    ones.
""" + _COMMON_DOC.replace("{name}", "FlatBIESTagger")

    def _build_module(self, load_weights=True):
        return BIESNet(self._encoder(load_weights), 1 + 4 * len(self.classes_))

    def _targets(self, text_len, entities):
        index = self._label_index()
        tags = torch.zeros(text_len, dtype=torch.long)
        for s, e, c in flat_subset(entities):
            base = 1 + 4 * (index[c] - 1)  # B, I, E, S of this type
            if e - s == 1:
                tags[s] = base + 3
            else:
                tags[s], tags[s + 1 : e - 1], tags[e - 1] = base, base + 1, base + 2
        return tags

    def _batch(self):
        return pad_tags

    def _criterion(self):
        return TokenCrossEntropy

    def _decode(self, module, inputs):
        tags, lengths = module(**inputs).argmax(-1).tolist(), inputs["lengths"]
        results = []
        for row, length in zip(tags, lengths.tolist()):
            spans, start = [], None
            for i, tag in enumerate(row[:length]):
                if tag == 0:
                    start = None
                    continue
                kind, label = (tag - 1) % 4, self.classes_[(tag - 1) // 4]
                if kind == 3:
                    spans.append((i, i + 1, label))
                    start = None
                elif kind == 0:
                    start = (i, label)
                elif start is None or start[1] != label:
                    start = None  # an I or E without a matching B
                elif kind == 2:
                    spans.append((start[0], i + 1, label))
                    start = None
            results.append(spans)
        return results


class SpanEnumerationTagger(_SameEncoderTagger):
    __doc__ = """Span-enumeration classifier (a baseline): every span up to
    ``max_entity_length`` characters is classified (O or a type) from its end
    features and a width embedding, so nested entities are possible. Training
    samples ``ceil(0.35 n)`` non-entity spans per sentence of ``n`` characters
    besides the entities (negative sampling; on all spans it predicts nothing).
""" + _COMMON_DOC.replace("{name}", "SpanEnumerationTagger")

    def _build_module(self, load_weights=True):
        return SpanNet(
            self._encoder(load_weights),
            len(self.classes_) + 1,
            self.max_entity_length,
            self.latent,
        )

    def _spans(self, lengths):
        return enumerate_spans(lengths, self.max_entity_length)

    def _targets(self, text_len, entities):
        index = self._label_index()
        return {(s, e - 1): index[c] for s, e, c in entities}

    def _batch(self):
        return SpanBatch(self.max_entity_length)

    def _criterion(self):
        return SpanCrossEntropy

    def _decode(self, module, inputs):
        lengths = inputs["lengths"]
        spans = self._spans(lengths)
        results = [[] for _ in range(len(lengths))]
        if len(spans):
            spans_on = spans.to(lengths.device)
            pred = module(**inputs, spans=spans_on).argmax(-1).tolist()
            for (b, s, e), p in zip(spans.tolist(), pred):
                if p:
                    results[b].append((s, e + 1, self.classes_[p - 1]))
        return results
