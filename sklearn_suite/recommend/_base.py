"""Recommender plumbing shared by the cross-domain recommenders: input checks, id
indexing, negative sampling and batched top-k ranking."""

import numbers
import warnings
from collections.abc import Hashable

import numpy as np
import pandas as pd
import torch
from sklearn.utils import check_scalar
from sklearn.utils.validation import check_is_fitted


def check_interactions(X, columns=("user", "item", "domain"), name="X"):
    """Validate an interaction DataFrame and return it with a clean index."""
    if not isinstance(X, pd.DataFrame):
        raise TypeError(
            f"{name} must be a pandas DataFrame with columns {list(columns)}; got "
            f"{type(X).__name__}."
        )
    missing = [c for c in columns if c not in X.columns]
    if missing:
        raise ValueError(f"{name} is missing the columns {missing}.")
    if len(X) == 0:
        raise ValueError(f"{name} has no interactions.")
    for column in columns:
        values = X[column]
        if values.dtype == object:
            unhashable = [
                i for i, v in enumerate(values) if not isinstance(v, Hashable)
            ]
            if unhashable:
                i = unhashable[0]
                raise TypeError(
                    f"{name}[{column!r}] holds unhashable ids such as "
                    f"{values.iloc[i]!r:.40} (row {i}); ids must be str or int."
                )
        if values.isna().any():
            raise ValueError(f"{name}[{column!r}] contains NaN.")
    return X.reset_index(drop=True)


def check_users(users):
    """A sequence of user ids (a bare id such as ``"abc"`` is not a sequence)."""
    if isinstance(users, (str, bytes, dict)) or not hasattr(users, "__iter__"):
        raise TypeError(
            "users must be a sequence of user ids (e.g. a list); got "
            f"{type(users).__name__} {users!r:.60}."
        )
    users = list(users)
    for user in users:
        if not isinstance(user, Hashable):
            raise TypeError(f"users must hold hashable ids; got {user!r:.60}.")
    return users


class InteractionIndex:
    """Global user ids and per-domain item ids mapped to contiguous integers."""

    def fit(self, X):
        self.users_ = pd.Index(pd.unique(X["user"]))
        self.domains_ = list(pd.unique(X["domain"]))
        self.items_ = {
            d: pd.Index(pd.unique(X.loc[X["domain"] == d, "item"]))
            for d in self.domains_
        }
        return self

    def domain_position(self, domain):
        if domain not in self.domains_:
            raise ValueError(f"unknown domain {domain!r}; fitted on {self.domains_}.")
        return self.domains_.index(domain)

    def encode(self, X):
        """Integer (user, item, domain) codes; -1 marks unknown users or items."""
        users = self.users_.get_indexer(X["user"])
        domains = pd.Index(self.domains_).get_indexer(X["domain"])
        if (domains < 0).any():
            self.domain_position(X["domain"].to_numpy()[domains < 0][0])  # raises
        items = np.full(len(X), -1)
        for pos, d in enumerate(self.domains_):
            rows = domains == pos
            if rows.any():
                items[rows] = self.items_[d].get_indexer(X.loc[rows, "item"])
        return users, items, domains


class NegativeSampler:
    """Negatives among the items a user has not interacted with, drawn uniformly
    or with probabilities ``p`` over the items."""

    def __init__(self, users, items, n_items, p=None):
        self.n_items = n_items
        self.p = p
        self.keys = np.unique(users.astype(np.int64) * n_items + items)

    def seen(self, users, items):
        keys = users.astype(np.int64) * self.n_items + items
        pos = np.searchsorted(self.keys, keys).clip(max=len(self.keys) - 1)
        return self.keys[pos] == keys

    def _draw(self, rng, size):
        if self.p is None:
            return rng.randint(self.n_items, size=size)
        return rng.choice(self.n_items, size=size, p=self.p)

    def sample(self, users, rng, n_negatives=None, max_tries=20, exact=False):
        """One negative per user (shape ``(n,)``), or ``n_negatives`` per user
        (shape ``(n, n_negatives)``, with replacement). After ``max_tries`` rounds
        a few clashes may remain, unless ``exact`` (then every clash is redrawn
        until none is left)."""
        shape = (len(users),) if n_negatives is None else (len(users), n_negatives)
        owners = np.broadcast_to(
            np.asarray(users).reshape(-1, *([1] * (len(shape) - 1))), shape
        )
        negatives = self._draw(rng, shape)
        for tries in range(10_000):
            clash = self.seen(owners, negatives)
            if not clash.any() or (tries >= max_tries and not exact):
                return negatives
            negatives[clash] = self._draw(rng, int(clash.sum()))
        raise ValueError("a user has interacted with every item of a domain.")


def top_k_items(user_vectors, item_vectors, k, seen=None, batch_size=1024):
    """Top-``k`` items by dot product for each user, in user batches.

    Never builds more than ``batch_size x n_items`` scores at once.

    Parameters
    ----------
    user_vectors : Tensor (n_users, dim)
    item_vectors : Tensor (n_items, dim)
    k : int
    seen : list of arrays or None
        Items to exclude per user.

    Returns
    -------
    items, scores : ndarray (n_users, k)
    """
    k = min(k, len(item_vectors))
    out_items, out_scores = [], []
    with torch.no_grad():
        for start in range(0, len(user_vectors), batch_size):
            scores = user_vectors[start : start + batch_size] @ item_vectors.T
            if seen is not None:
                for row, items in enumerate(seen[start : start + batch_size]):
                    if len(items):
                        scores[row, torch.as_tensor(items)] = -torch.inf
            top = torch.topk(scores, k, dim=1)
            out_items.append(top.indices.numpy())
            out_scores.append(top.values.numpy())
    return np.concatenate(out_items), np.concatenate(out_scores)


def seen_lists(codes, n_users, n_domains):
    """Per domain, per user code: the sorted item codes of its interactions."""
    u, i, d = codes
    frame = pd.DataFrame({"u": u, "i": i, "d": d})
    seen = []
    for pos in range(n_domains):
        lists = [np.empty(0, dtype=int)] * n_users
        for user, items in frame[frame.d == pos].groupby("u")["i"]:
            lists[user] = np.sort(items.to_numpy())
        seen.append(lists)
    return seen


class EmbeddingRecommenderMixin:
    """``predict`` and ``recommend`` for recommenders that score an item by the dot
    product of a user vector and an item vector.

    The estimator provides ``_index`` (an :class:`InteractionIndex`), ``_seen``
    (from :func:`seen_lists`), ``_popular`` (per domain, item codes by training
    count), ``eval_batch_size``, ``_user_vectors(user_codes, d)`` and
    ``_item_vectors(d)``; ``_has_vector(user_codes, d)`` says which users get a
    vector (default: the known ones). The others are cold: NaN scores, popular
    items.
    """

    def _adopt_index(self, index):
        """Keep a fitted :class:`InteractionIndex` and expose its ``users_``,
        ``domains_`` and ``items_``."""
        self._index = index
        self.users_, self.domains_, self.items_ = (
            index.users_, index.domains_, index.items_,
        )  # fmt: skip

    def _remember_known(self, codes):
        """From the known (user, item, domain) codes: each user's seen items per
        domain and each domain's items by interaction count (ties by code)."""
        users, items, domains = codes
        sizes = [len(self.items_[dom]) for dom in self.domains_]
        self._seen = seen_lists(codes, len(self.users_), len(sizes))
        self._popular = [
            np.argsort(-np.bincount(items[domains == d], minlength=n), kind="stable")
            for d, n in enumerate(sizes)
        ]

    def _has_vector(self, user_codes, d):
        return user_codes >= 0

    def predict(self, X):
        """Score of each (user, item, domain) row; NaN for cold users or unknown
        items.

        Parameters
        ----------
        X : pandas.DataFrame
            Columns ``user``, ``item``, ``domain``.

        Returns
        -------
        scores : ndarray of shape (n_rows,)
        """
        check_is_fitted(self, "_index")
        X = check_interactions(X)
        users, items, domains = self._index.encode(X)
        scores = np.full(len(X), np.nan)
        for d in np.unique(domains):
            rows = (domains == d) & (items >= 0)
            rows[rows] = self._has_vector(users[rows], d)
            if rows.any():
                # one vector per distinct user: sequence encoders are costly
                distinct, inverse = np.unique(users[rows], return_inverse=True)
                with torch.no_grad():
                    vec = self._user_vectors(distinct, d)[torch.as_tensor(inverse)]
                    q = self._item_vectors(d)[torch.as_tensor(items[rows])]
                scores[rows] = (vec * q).sum(-1).numpy()
        return scores

    def recommend(self, users, domain, k=10, exclude_seen=True):
        """Top-``k`` items of ``domain`` for each user, ranking every item.

        Parameters
        ----------
        users : sequence
            User ids. Cold users (see the class notes) get the domain's most
            popular items (score NaN) and a warning.
        domain : hashable
            A domain seen at ``fit``.
        k : int, default=10
        exclude_seen : bool, default=True
            Never recommend an item the user interacted with before.

        Returns
        -------
        recommendations : pandas.DataFrame
            Columns ``user``, ``item``, ``score``, ``rank`` (1 = best), ``k`` rows
            per user (fewer when the domain has fewer unseen items).
        """
        check_is_fitted(self, "_index")
        d = self._index.domain_position(domain)
        check_scalar(k, "k", numbers.Integral, min_val=1)
        users = check_users(users)
        codes = self._index.users_.get_indexer(users)
        known = self._has_vector(codes, d)
        k = min(k, len(self._index.items_[domain]))
        item_codes = np.zeros((len(users), k), dtype=int)
        scores = np.full((len(users), k), np.nan)
        if known.any():
            seen = [self._seen[d][c] for c in codes[known]] if exclude_seen else None
            with torch.no_grad():
                vectors = self._user_vectors(codes[known], d)
                items = self._item_vectors(d)
            item_codes[known], scores[known] = top_k_items(
                vectors, items, k, seen, self.eval_batch_size
            )
        if (~known).any():
            warnings.warn(
                f"{int((~known).sum())} cold users get the most popular items.",
                UserWarning,
                stacklevel=2,
            )
            item_codes[~known] = self._popular[d][:k]
        rows = np.repeat(np.arange(len(users)), k)
        out = pd.DataFrame(
            {
                "user": np.asarray(users, dtype=object)[rows],
                "item": np.asarray(self._index.items_[domain])[item_codes.ravel()],
                "score": scores.ravel(),
                "rank": np.tile(np.arange(1, k + 1), len(users)),
            }
        )
        # seen items may fill the tail for users with fewer than k unseen items
        return out[np.isfinite(out["score"]) | ~np.repeat(known, k)].reset_index(
            drop=True
        )
