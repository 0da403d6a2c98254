"""SASRecRecommender: a single-domain self-attentive sequential baseline."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.nn import functional as F

from sklearn_suite.base import (
    COMMON_CONSTRAINTS,
    NON_NEGATIVE_INT,
    POSITIVE,
    POSITIVE_INT,
    TorchEstimatorMixin,
    check_device,
    check_seed,
    fit_method,
    torch_seeded,
)
from sklearn_suite.recommend._sequence import SequentialRecommenderMixin
from sklearn_suite.recommend._training import SequenceDraws, fit_steps
from sklearn_suite.recommend._transformer import SelfAttentiveRecommender


class SASRecStage(nn.Module):
    """SASRec's loss on a batch of sequences: binary cross-entropy of every
    position's next item against one uniform random negative item."""

    def __init__(self, model, n_items):
        super().__init__()
        self.model = model
        self.n_items = n_items

    def forward(self, seq):
        inputs, targets = seq[:, :-1], seq[:, 1:]
        states = self.model(inputs)
        negatives = torch.randint_like(targets, 1, self.n_items + 1)
        items = self.model.embedding.items
        pos = (states * items(targets)).sum(-1)
        neg = (states * items(negatives)).sum(-1)
        keep = (inputs > 0) & (targets > 0)
        return F.binary_cross_entropy_with_logits(
            pos[keep], torch.ones_like(pos[keep])
        ) + F.binary_cross_entropy_with_logits(neg[keep], torch.zeros_like(neg[keep]))


class SASRecRecommender(TorchEstimatorMixin, SequentialRecommenderMixin, BaseEstimator):
    """Self-attentive sequential recommendation (SASRec-style), one independent
    model per domain: the baseline that RecGURU's cross-domain user
    representations are measured against.

    Item and learned position embeddings feed a causal Transformer encoder; the
    state at each position scores the next item by dot product with the item
    embeddings, trained with binary cross-entropy against one uniform negative
    per position (as in SASRec).

    Parameters
    ----------
    d_model : int, default=32
    n_blocks : int, default=2
    n_heads : int, default=1
    d_ff : int, default=128
    max_len : int, default=50
        The most recent ``max_len`` items of each sequence are used.
    dropout : float, default=0.2
    lr : float, default=1e-3
    n_steps : int, default=500
        Training steps per domain, in rounds of ``eval_every`` (rounded up).
    batch_size : int, default=256
    eval_every : int, default=50
        Steps between validation checks when ``X_valid`` is given (the best
        state is kept).
    eval_batch_size : int, default=1024
    callbacks : list of skorch callbacks, default=None
        Extra callbacks of every domain's training net (one epoch per round).
    device : str, default="cpu"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0

    Attributes
    ----------
    users_, domains_, items_ : as in :class:`RecGURURecommender`
    models_ : list of SelfAttentiveRecommender
        One per domain.
    history_ : dict
        Domain -> skorch History, one entry per round of ``eval_every`` steps
        (``train_loss``, and ``valid_hr`` with ``X_valid``).

    Examples
    --------
    >>> from sklearn_suite.datasets import make_cross_domain_sequences
    >>> from sklearn_suite.recommend import SASRecRecommender
    >>> data = make_cross_domain_sequences(n_users=(80, 60), random_state=0)
    >>> model = SASRecRecommender(d_model=8, n_blocks=1, d_ff=16, max_len=10,
    ...                           n_steps=2, random_state=0).fit(data.train)
    >>> model.recommend([0], domain=1, k=3)["rank"].tolist()
    [1, 2, 3]

    References
    ----------
    .. [1] W.-C. Kang and J. McAuley, "Self-Attentive Sequential
       Recommendation", ICDM 2018, arXiv:1808.09781.
    """

    _parameter_constraints: dict = {
        "d_model": [POSITIVE_INT],
        "n_blocks": [POSITIVE_INT],
        "n_heads": [POSITIVE_INT],
        "d_ff": [POSITIVE_INT],
        "max_len": [Interval(Integral, 2, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "lr": [POSITIVE],
        "n_steps": [NON_NEGATIVE_INT],
        "batch_size": [POSITIVE_INT],
        "eval_every": [POSITIVE_INT],
        "eval_batch_size": [POSITIVE_INT],
        **COMMON_CONSTRAINTS,
    }

    def __init__(
        self,
        *,
        d_model=32,
        n_blocks=2,
        n_heads=1,
        d_ff=128,
        max_len=50,
        dropout=0.2,
        lr=1e-3,
        n_steps=500,
        batch_size=256,
        eval_every=50,
        eval_batch_size=1024,
        callbacks=None,
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.d_model = d_model
        self.n_blocks = n_blocks
        self.n_heads = n_heads
        self.d_ff = d_ff
        self.max_len = max_len
        self.dropout = dropout
        self.lr = lr
        self.n_steps = n_steps
        self.batch_size = batch_size
        self.eval_every = eval_every
        self.eval_batch_size = eval_batch_size
        self.callbacks = callbacks
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    @fit_method
    def fit(self, X, y=None, X_valid=None):
        """Fit one self-attentive model per domain.

        Parameters
        ----------
        X : pandas.DataFrame
            ``user``, ``item``, ``domain``, ``timestamp``.
        y : None
            Ignored.
        X_valid : pandas.DataFrame, default=None
            Validation interactions for choosing the step; they join the
            histories afterwards.

        Returns
        -------
        self : SASRecRecommender
        """
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_heads "
                f"({self.n_heads})."
            )
        device = check_device(self.device)
        store, valid = self._index_sequences(X, X_valid)
        self._store = store
        rng = check_random_state(self.random_state)
        seed = check_seed(rng)
        self.models_, self.history_ = nn.ModuleList(), {}
        self._device = device
        with torch_seeded(seed, device):
            for d, domain in enumerate(self.domains_):
                model = SelfAttentiveRecommender(
                    len(self.items_[domain]), self.d_model, self.n_blocks,
                    self.n_heads, self.d_ff, self.max_len, self.dropout,
                )  # fmt: skip
                self.models_.append(model)
                self.history_[domain] = self._train(d, model, valid, rng, seed)
                model.eval().cpu()
        self._device = "cpu"
        self._finish_histories(store, valid)
        return self

    def _train(self, d, model, valid, rng, seed):
        users = np.flatnonzero(self._store.lengths(d, range(len(self.users_))) > 1)
        net = fit_steps(
            SASRecStage(model, len(self.items_[self.domains_[d]])),
            SequenceDraws(
                self._store,
                {"seq": (d, users, None)},
                self.max_len,
                int(rng.randint(2**31 - 1)),
            ),  # fmt: skip
            n_steps=self.n_steps,
            eval_every=self.eval_every,
            batch_size=self.batch_size,
            validate=self._validation(valid, [d]) if valid is not None else None,
            stage=f"SASRec {self.domains_[d]}",
            seed=seed,
            device=self._device,
            lr=self.lr,
            callbacks=self.callbacks,
            verbose=self.verbose,
        )
        return net.history

    def _rebuild_modules(self):
        """For :meth:`load`: one model per domain, weights to be loaded."""
        self.models_ = nn.ModuleList(
            SelfAttentiveRecommender(
                len(self.items_[domain]),
                self.d_model,
                self.n_blocks,
                self.n_heads,
                self.d_ff,
                self.max_len,
                self.dropout,
            )  # fmt: skip
            for domain in self.domains_
        )
        self._device = "cpu"

    def _eval_mode(self):
        self.models_.eval()

    def _sequence_vectors(self, user_codes, d):
        model = self.models_[d]
        seq = self._store.padded(d, user_codes, self.max_len - 1).to(self._device)
        return model(seq)[:, -1].cpu()

    def _item_vectors(self, d):
        check_is_fitted(self, "models_")
        return self.models_[d].item_vectors().cpu()
