"""What every character-level tagger shares: input checks, the character
vocabulary, batching, training through the library's skorch engine and span-F1
scoring.

A tagger defines its module (``_build_module``), the per-sentence targets
(``_targets``), how a batch of them becomes tensors (``_batch``, a module-level
function so the net pickles), the criterion (``_criterion``) and decoding
(``_decode``)."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from sklearn_suite.base import (
    COMMON_CONSTRAINTS,
    INFERENCE_DTYPES,
    NON_NEGATIVE,
    POSITIVE,
    POSITIVE_INT,
    ItemDataset,
    TorchEstimatorMixin,
    check_device,
    check_seed,
    fit_method,
    fit_net,
    inference_autocast,
    make_net,
    torch_seeded,
)
from sklearn_suite.metrics import span_f1_score
from sklearn_suite.ner._features import TextFeatures, load_tokenizer
from sklearn_suite.ner._modules import CharEncoder

BUILT_IN_ENCODERS = ("bilstm", "transformer")
# sentences per prediction batch (sorted by length, so little padding); the
# CPU LSTM is measured fastest per sentence around this size
PREDICT_BATCH = 64


def check_texts(X, max_length):
    """A list of str, each at most ``max_length`` characters."""
    if isinstance(X, str) or not hasattr(X, "__len__"):
        raise TypeError(
            f"X must be a list of str (one sentence each); got {type(X).__name__}."
        )
    texts = list(X)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"X[{i}] must be a str; got {type(text).__name__}.")
        if len(text) > max_length:
            raise ValueError(
                f"X[{i}] has {len(text)} characters, more than max_length="
                f"{max_length}; split it or raise max_length."
            )
    return texts


def check_entities(texts, y):
    """Lists of (start, end, label) with slice offsets inside each text."""
    if y is None or isinstance(y, str) or not hasattr(y, "__len__"):
        raise TypeError(
            "y must be a list with one list of (start, end, label) per "
            f"sentence; got {type(y).__name__}."
        )
    if len(y) != len(texts):
        raise ValueError(
            f"X and y have different lengths: {len(texts)} sentences "
            f"and {len(y)} entity lists."
        )
    out = []
    for i, (text, entities) in enumerate(zip(texts, y)):
        spans = set()
        for entity in entities:
            if isinstance(entity, str) or len(entity) != 3:
                raise ValueError(
                    f"y[{i}] has {entity!r}; an entity is (start, end, label)."
                )
            start, end, label = entity
            if not isinstance(start, Integral) or not isinstance(end, Integral):
                raise TypeError(f"y[{i}] has {entity!r}: start and end must be ints.")
            if not (0 <= start < end <= len(text)):
                raise ValueError(
                    f"y[{i}] has {entity!r}: offsets must satisfy 0 <= start < end "
                    f"<= len(text) = {len(text)} (end is exclusive)."
                )
            if not isinstance(label, str) or not label:
                raise ValueError(
                    f"y[{i}] has {entity!r}: the label must be a non-empty str."
                )
            spans.add((int(start), int(end), label))
        out.append(sorted(spans))
    return out


class LengthBuckets(torch.utils.data.Sampler):
    """Training batches of sentences of similar lengths.

    Each epoch the sentences are shuffled and cut into pools of ``pool`` batches;
    within a pool they are sorted by length and batched, and the batches are
    shuffled. A batch is padded to its own longest sentence, so one very long
    sentence no longer pads ``batch_size - 1`` short ones to its length: memory is
    bounded by ``batch_size`` times the longest sentences of the data.
    """

    def __init__(self, lengths, batch_size, seed, pool=50):
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.pool = pool
        self.rng = np.random.RandomState(seed)

    def __iter__(self):
        order = self.rng.permutation(len(self.lengths))
        size = self.batch_size * self.pool
        batches = []
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches += [
                chunk[b : b + self.batch_size].tolist()
                for b in range(0, len(chunk), self.batch_size)
            ]
        for i in self.rng.permutation(len(batches)):
            yield batches[i]

    def __len__(self):
        return -(-len(self.lengths) // self.batch_size)


class SentenceCollate:
    """Batches sentences into the encoder's inputs (see :class:`TextFeatures`)
    plus whatever the tagger's ``batch(lengths, targets)`` adds to ``X`` and
    returns as ``y``."""

    def __init__(self, features, batch):
        self.features = features
        self.batch = batch

    def __call__(self, items):
        texts, targets = zip(*items)
        inputs = self.features.transform(texts)
        extra, y = self.batch(inputs["lengths"], list(targets))
        return {**inputs, **extra}, y


class CharTaggerBase(TorchEstimatorMixin, BaseEstimator):
    """Base of the character-level taggers; subclasses define the module, the
    per-sentence targets, the loss and the decoding."""

    _parameter_constraints: dict = {
        "emb_dim": [POSITIVE_INT],
        "hidden": [POSITIVE_INT],
        "lstm_layers": [POSITIVE_INT],
        "encoder": [str],
        "pretrained_lr": [POSITIVE],
        "latent": [POSITIVE_INT],
        "max_entity_length": [POSITIVE_INT],
        "max_length": [POSITIVE_INT],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "max_epochs": [POSITIVE_INT],
        "batch_size": [POSITIVE_INT],
        "lr": [POSITIVE],
        "weight_decay": [NON_NEGATIVE],
        "warm_start": ["boolean"],
        "bigrams": ["boolean"],
        "lexicon": [None, StrOptions({"jieba"}), dict],
        "predict_dtype": [StrOptions(set(INFERENCE_DTYPES))],
        **COMMON_CONSTRAINTS,
    }

    def _pretrained(self):
        """The Hugging Face model name or directory, or None (a built-in encoder)."""
        return None if self.encoder in BUILT_IN_ENCODERS else self.encoder

    def _check_encoder(self):
        name = self._pretrained()
        if name is None:
            return
        try:
            load_tokenizer(name)
        except ImportError:
            raise
        except Exception as exc:  # transformers raises OSError, ValueError, ...
            raise ValueError(
                f"The 'encoder' parameter of {type(self).__name__} must be "
                f"'bilstm', 'transformer' or the name or directory of a Hugging "
                f"Face model; {name!r} could not be loaded ({exc})."
            ) from exc

    def _encoder(self, load_weights=True):
        return CharEncoder(
            len(self.char_vocab_),
            self.emb_dim,
            self.hidden,
            self.lstm_layers,
            self.dropout,
            "bilstm" if self._pretrained() else self.encoder,
            self.max_length,
            n_bigrams=self.features_.n_bigrams,
            n_words=self.features_.n_words,
            pretrained=self._pretrained(),
            special_ids=getattr(self.features_, "special_ids", None),
            load_weights=load_weights,
        )

    @fit_method
    def fit(self, X, y):
        """Train the tagger (with ``warm_start=True``, continue training it).

        Parameters
        ----------
        X : list of str
            Sentences, one character per token.
        y : list of list of (start, end, label)
            Entities with Python slice offsets (``text[start:end]``); nested and
            overlapping spans are allowed.

        Returns
        -------
        self
        """
        texts = check_texts(X, self.max_length)
        entities = check_entities(texts, y)
        if not texts:
            raise ValueError("X is empty: fit needs at least one sentence.")
        classes = np.array(sorted({c for ents in entities for _, _, c in ents}))
        if len(classes) == 0:
            raise ValueError("y has no entity: fit needs at least one labelled span.")
        warm = self.warm_start and hasattr(self, "net_")
        if warm:
            if list(classes) != list(self.classes_):
                raise ValueError(
                    "warm_start=True continues the fitted net, which needs the same "
                    f"entity types; fitted on {list(self.classes_)}, got "
                    f"{list(classes)}. Set warm_start=False to train a new net."
                )
            features = self.features_  # new characters are read as unknown
        else:
            self._check_encoder()
            features = TextFeatures(
                self.bigrams, self.lexicon, pretrained=self._pretrained()
            ).fit(texts)
        self.classes_, self.features_ = classes, features
        self.char_vocab_ = features.char_vocab
        seed = check_seed(self.random_state)
        device = check_device(self.device)
        keep = [i for i, t in enumerate(texts) if t]  # empty sentences teach nothing
        data = ItemDataset(
            [texts[i] for i in keep],
            [self._targets(len(texts[i]), entities[i]) for i in keep],
        )
        total = self.max_epochs * -(-len(data) // self.batch_size)
        with torch_seeded(seed, device):
            if warm:
                net = self.net_
                net.set_params(max_epochs=self.max_epochs, warm_start=True)
                # buckets for the new sentences, set directly: skorch's
                # set_params refuses iterator parameters on an initialised net
                net.iterator_train__batch_sampler = self._buckets(data, seed)
                fit_net(net, data)
            else:
                net = self._new_net(data, total, seed, device)
                fit_net(net, data)
        self.net_ = net
        self.history_ = net.history
        return self

    def _new_net(self, data, total, seed, device, load_weights=True):
        groups = {}
        if self._pretrained():  # the pretrained model fine-tunes at its own rate
            groups["optimizer__param_groups"] = [
                ("encoder.pretrained.*", {"lr": self.pretrained_lr})
            ]
        return make_net(
            self._build_module(load_weights),
            stage=type(self).__name__,
            seed=seed,
            device=device,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            criterion=self._criterion(),
            weight_decay=self.weight_decay,
            grad_clip=5.0,
            # linear warm-up over 1% of the steps, then linear decay, as in Mulco
            schedule=dict(total_steps=total, warmup_steps=max(1, total // 100)),
            collate=SentenceCollate(self.features_, self._batch()),
            callbacks=self.callbacks,
            verbose=self.verbose,
            # batches of similar lengths: the sampler makes them, so the loader
            # takes one "item" (a batch of indices) at a time
            shuffle=False,
            iterator_train__batch_size=1,
            iterator_train__batch_sampler=self._buckets(data, seed),
            **groups,
        )

    def _buckets(self, data, seed):
        """The training batch sampler over ``data``'s sentences (none to load)."""
        lengths = [] if data is None else [len(text) for text in data.items]
        return LengthBuckets(lengths, self.batch_size, seed)

    def _rebuild_modules(self):
        """For :meth:`load`: the net of a fitted tagger, weights to be loaded."""
        self.net_ = self._new_net(
            None, 1, 0, check_device(self.device), load_weights=False
        )
        self.net_.initialize()

    @property
    def module_(self):
        """The trained network (``net_.module_``)."""
        return self.net_.module_

    @torch.no_grad()
    def predict(self, X):
        """Entities of each sentence.

        Parameters
        ----------
        X : list of str

        Returns
        -------
        entities : list of list of (start, end, label)
            Slice offsets; nested spans may appear.
        """
        check_is_fitted(self)
        texts = check_texts(X, self.max_length)
        module = self.net_.module_.eval()
        device = self.net_.device
        out = [[] for _ in texts]
        order = sorted(
            (i for i, t in enumerate(texts) if t), key=lambda i: len(texts[i])
        )
        size = max(self.batch_size, PREDICT_BATCH)
        with inference_autocast(device, self.predict_dtype):
            for b in range(0, len(order), size):
                idx = order[b : b + size]
                inputs = self.features_.transform([texts[i] for i in idx])
                inputs = {k: v.to(device) for k, v in inputs.items()}
                for i, ents in zip(idx, self._decode(module, inputs)):
                    out[i] = ents
        return out

    def score(self, X, y):
        """Micro F1 with exact span and label over all entities, nested included.

        Parameters
        ----------
        X : list of str
        y : list of list of (start, end, label)

        Returns
        -------
        f1 : float
        """
        texts = check_texts(X, self.max_length)
        return span_f1_score(check_entities(texts, y), self.predict(texts))

    def _label_index(self):
        return {label: i + 1 for i, label in enumerate(self.classes_)}  # 0 is O

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.target_tags.required = True
        return tags
