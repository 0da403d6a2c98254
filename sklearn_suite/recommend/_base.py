"""Recommender plumbing shared by the cross-domain recommenders: input checks, id
indexing, BPR negative sampling and batched top-k ranking."""

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from sklearn_suite.metrics import ndcg_at_k, recall_at_k


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
        if X[column].isna().any():
            raise ValueError(f"{name}[{column!r}] contains NaN.")
    return X.reset_index(drop=True)


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
    """Uniform negatives among the items a user has not interacted with."""

    def __init__(self, users, items, n_items):
        self.n_items = n_items
        self.keys = np.unique(users.astype(np.int64) * n_items + items)

    def seen(self, users, items):
        keys = users.astype(np.int64) * self.n_items + items
        pos = np.searchsorted(self.keys, keys).clip(max=len(self.keys) - 1)
        return self.keys[pos] == keys

    def sample(self, users, rng, max_tries=20):
        negatives = rng.randint(self.n_items, size=len(users))
        for _ in range(max_tries):
            clash = self.seen(users, negatives)
            if not clash.any():
                break
            negatives[clash] = rng.randint(self.n_items, size=int(clash.sum()))
        return negatives


def bpr_loss(pos_scores, neg_scores):
    """``softplus(s_neg - s_pos)``, averaged."""
    return torch.nn.functional.softplus(neg_scores - pos_scores).mean()


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


def per_domain_metrics(model, X, k=10):
    """Recall@k and NDCG@k per domain under full ranking, seen items excluded.

    Parameters
    ----------
    model : fitted recommender
        Any estimator with ``recommend(users, domain, k, exclude_seen=True)``.
    X : pandas.DataFrame
        Held-out interactions (``user``, ``item``, ``domain``).
    k : int, default=10

    Returns
    -------
    scores : dict
        Domain -> ``{"recall": float, "ndcg": float}``.
    """
    X = check_interactions(X)
    out = {}
    for domain, rows in X.groupby("domain", sort=False):
        truth = rows.groupby("user")["item"].apply(set)
        ranked = (
            model.recommend(truth.index, domain, k=k)
            .pivot(index="user", columns="rank", values="item")
            .reindex(truth.index)
            .to_numpy()
        )
        top = min(k, ranked.shape[1])
        out[domain] = {
            "recall": recall_at_k(list(truth), ranked, top),
            "ndcg": ndcg_at_k(list(truth), ranked, top),
        }
    return out


class FullRankingScoreMixin:
    """``score`` = mean over domains of NDCG@k under full ranking, for estimators
    with ``recommend(users, domain, k, exclude_seen=True)``."""

    def score(self, X, y=None, k=10):
        """Mean over domains of NDCG@``k`` under full ranking, seen items excluded.

        Parameters
        ----------
        X : pandas.DataFrame
            Held-out interactions (``user``, ``item``, ``domain``).
        y : None
            Ignored.
        k : int, default=10

        Returns
        -------
        score : float
        """
        scores = per_domain_metrics(self, X, k)
        return float(np.mean([s["ndcg"] for s in scores.values()]))


class PopularityRecommender(FullRankingScoreMixin, BaseEstimator):
    """Recommends each domain's most interacted-with items the user has not seen.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_suite.recommend import PopularityRecommender
    >>> X = pd.DataFrame({"user": [1, 2, 2, 3], "item": ["a", "a", "b", "c"],
    ...                   "domain": "books"})
    >>> PopularityRecommender().fit(X).recommend([3], "books", k=2)["item"].tolist()
    ['a', 'b']
    """

    def fit(self, X, y=None):
        """Count interactions per item.

        Parameters
        ----------
        X : pandas.DataFrame
            Columns ``user``, ``item``, ``domain``.
        y : None
            Ignored.

        Returns
        -------
        self : PopularityRecommender
        """
        X = check_interactions(X)
        self.counts_ = {
            domain: rows["item"].value_counts(sort=True)
            for domain, rows in X.groupby("domain", sort=False)
        }
        self.seen_ = X.groupby(["domain", "user"])["item"].apply(set).to_dict()
        return self

    def recommend(self, users, domain, k=10, exclude_seen=True):
        """Top-``k`` unseen popular items per user.

        Parameters
        ----------
        users : sequence
        domain : hashable
        k : int, default=10
        exclude_seen : bool, default=True

        Returns
        -------
        recommendations : pandas.DataFrame
            Columns ``user``, ``item``, ``score`` (interaction count), ``rank``.
        """
        if domain not in getattr(self, "counts_", {}):
            check_is_fitted(self, "counts_")
            raise ValueError(
                f"unknown domain {domain!r}; fitted on {list(self.counts_)}."
            )
        counts = self.counts_[domain]
        rows = []
        for user in users:
            seen = self.seen_.get((domain, user), set()) if exclude_seen else set()
            top = [i for i in counts.index[: k + len(seen)] if i not in seen][:k]
            rows += [(user, i, counts[i], r) for r, i in enumerate(top, 1)]
        return pd.DataFrame(rows, columns=["user", "item", "score", "rank"])
