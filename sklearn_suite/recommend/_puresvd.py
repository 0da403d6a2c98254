"""PureSVDRecommender: truncated SVD of the binary user x item matrix (a
baseline)."""

import numbers

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator
from sklearn.decomposition import TruncatedSVD
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

from sklearn_suite.base import TorchEstimatorMixin, fit_method
from sklearn_suite.recommend._base import (
    EmbeddingRecommenderMixin,
    InteractionIndex,
    check_interactions,
)
from sklearn_suite.recommend._protocols import FullRankingScoreMixin


class PureSVDRecommender(
    TorchEstimatorMixin, EmbeddingRecommenderMixin, FullRankingScoreMixin, BaseEstimator
):
    """PureSVD: items scored by the user's interaction row projected on the top
    singular vectors of the binary user x item matrix.

    With ``R ~ U S V^T`` (scikit-learn's :class:`~sklearn.decomposition.TruncatedSVD`),
    the score of item ``i`` for user ``u`` is ``r_u V V_i^T``: the user's row,
    reconstructed from ``n_components`` directions. ``joint=False`` factorises
    each domain's matrix alone; ``joint=True`` factorises one matrix over the
    items of every domain (a user's interactions anywhere inform every domain) and
    ranks only the requested domain's items.

    Parameters
    ----------
    n_components : int, default=50
        Singular vectors kept (at most the matrix's smaller side minus one).
    joint : bool, default=False
        One factorisation over all domains' items instead of one per domain.
    eval_batch_size : int, default=1024
        Users scored at once when ranking all items.
    random_state : int, RandomState instance or None, default=None
        Seeds the randomised SVD.

    Attributes
    ----------
    users_ : pandas.Index
    domains_ : list
    items_ : dict
        Domain -> pandas.Index of its items.
    components_ : list of ndarray
        Per domain, the item factors ``V_d`` (n_items_d, n_components); with
        ``joint`` the rows of the one factorisation that belong to the domain.

    Notes
    -----
    Users unknown at ``fit`` (and, without ``joint``, users with no interaction in
    the domain) get the domain's most popular items (score NaN) from
    :meth:`recommend` and NaN from :meth:`predict`.

    References
    ----------
    .. [1] P. Cremonesi, Y. Koren and R. Turrin, "Performance of recommender
       algorithms on top-N recommendation tasks", RecSys 2010.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_suite.recommend import PureSVDRecommender
    >>> X = pd.DataFrame({"user": [1, 1, 2, 2, 3, 3, 4],
    ...                   "item": ["a", "b", "a", "b", "a", "c", "a"],
    ...                   "domain": "books"})
    >>> model = PureSVDRecommender(n_components=1, random_state=0).fit(X)
    >>> model.recommend([4], "books", k=1)["item"].tolist()
    ['b']
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "joint": ["boolean"],
        "eval_batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self, *, n_components=50, joint=False, eval_batch_size=1024, random_state=None
    ):
        self.n_components = n_components
        self.joint = joint
        self.eval_batch_size = eval_batch_size
        self.random_state = random_state

    def _rebuild_modules(self):
        """For :meth:`load`: arrays only, no network."""

    @fit_method
    def fit(self, X, y=None):
        """Factorise the binary interaction matrix (per domain, or jointly).

        Parameters
        ----------
        X : pandas.DataFrame
            Columns ``user``, ``item``, ``domain``.
        y : None
            Ignored.

        Returns
        -------
        self : PureSVDRecommender
        """
        X = check_interactions(X)
        rng = check_random_state(self.random_state)
        index = InteractionIndex().fit(X)
        users, items, domains = index.encode(X)
        self._adopt_index(index)
        self._remember_known((users, items, domains))
        sizes = [len(index.items_[d]) for d in index.domains_]
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        n_users = len(index.users_)
        self._present = np.zeros((n_users, len(sizes)), dtype=bool)
        self._present[users, domains] = True
        if self.joint:
            blocks = [(users, items + offsets[domains], offsets[-1])]
        else:
            blocks = [
                (users[domains == d], items[domains == d], n)
                for d, n in enumerate(sizes)
            ]
        self.components_, self._user_factors = [], []
        for block_users, columns, width in blocks:
            R = sp.csr_matrix(
                (np.ones(len(columns)), (block_users, columns)), shape=(n_users, width)
            )
            R.data[:] = 1.0  # repeated interactions count once
            V = self._factorise(R, rng)
            self._user_factors.append(torch.as_tensor(R @ V, dtype=torch.float32))
            self.components_.append(V)
        if self.joint:
            V = self.components_[0]
            self.components_ = [
                V[offsets[d] : offsets[d + 1]] for d in range(len(sizes))
            ]
        self._item_factors = [
            torch.as_tensor(V, dtype=torch.float32) for V in self.components_
        ]
        return self

    def _factorise(self, R, rng):
        """Item factors ``V`` (n_items, k) of the rank-k truncated SVD of ``R``."""
        k = min(self.n_components, min(R.shape) - 1)
        if k < 1:  # a single item or user: the row itself is the only direction
            return np.ones((R.shape[1], 1)) / np.sqrt(R.shape[1])
        svd = TruncatedSVD(k, algorithm="randomized", n_iter=7, random_state=rng)
        svd.fit(R)
        return svd.components_.T

    def _has_vector(self, user_codes, d):
        known = user_codes >= 0
        if self.joint:
            return known
        out = np.zeros(len(user_codes), dtype=bool)
        out[known] = self._present[user_codes[known], d]
        return out

    def _user_vectors(self, user_codes, d):
        factors = self._user_factors[0 if self.joint else d]
        return factors[torch.as_tensor(user_codes)]

    def _item_vectors(self, d):
        return self._item_factors[d]
