"""The evaluation protocols of the recommenders: sampled-candidate ranking
(HR/NDCG/MRR against sampled negatives) and full ranking (Recall/NDCG over every
unseen item)."""

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from sklearn_suite.metrics import (
    hit_rate_at_k,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
    sampled_ndcg_at_k,
)
from sklearn_suite.recommend._base import NegativeSampler, check_interactions

SAMPLINGS = ("uniform", "popularity")


def sample_candidates(
    X_test, X_known, n_negatives=199, sampling="uniform", random_state=0
):
    """Candidates of the sampled ranking protocol: per held-out row, its item then
    ``n_negatives`` items of its domain the user never interacted with.

    Negatives are drawn with replacement from the items of ``X_known``, uniformly
    or in proportion to ``count ** 0.75`` (``"popularity"``), excluding every item
    the user has in ``X_known`` or ``X_test``.

    Parameters
    ----------
    X_test : pandas.DataFrame
        Held-out rows (``user``, ``item``, ``domain``).
    X_known : pandas.DataFrame
        The interactions known before them.
    n_negatives : int, default=199
    sampling : {"uniform", "popularity"}, default="uniform"
    random_state : int, RandomState instance or None, default=0

    Returns
    -------
    candidates : ndarray of shape (n_test, 1 + n_negatives), dtype object
        Item ids; column 0 is the held-out item.
    """
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {SAMPLINGS}; got {sampling!r}.")
    X_test = check_interactions(X_test, name="X_test")
    X_known = check_interactions(X_known, name="X_known")
    rng = check_random_state(random_state)
    out = np.empty((len(X_test), 1 + n_negatives), dtype=object)
    out[:, 0] = X_test["item"].to_numpy()
    both = pd.concat([X_known[["user", "item", "domain"]], X_test], ignore_index=True)
    for domain, rows in X_test.groupby("domain", sort=False).indices.items():
        counts = X_known.loc[X_known["domain"] == domain, "item"].value_counts()
        if counts.empty:
            raise ValueError(f"X_known has no interaction in domain {domain!r}.")
        items = counts.index
        mine = both[both["domain"] == domain]
        users = pd.Index(pd.unique(mine["user"]))
        codes = items.get_indexer(mine["item"])
        p = counts.to_numpy() ** 0.75 if sampling == "popularity" else None
        sampler = NegativeSampler(
            users.get_indexer(mine["user"])[codes >= 0],
            codes[codes >= 0],
            len(items),
            None if p is None else p / p.sum(),
        )
        owners = users.get_indexer(X_test["user"].to_numpy()[rows])
        negatives = sampler.sample(owners, rng, n_negatives, exact=True)
        out[rows, 1:] = np.asarray(items, dtype=object)[negatives]
    return out


def sampled_ranking_metrics(
    model, X_test, X_known, k=10, n_negatives=199, sampling="uniform", random_state=0
):
    """HR@k, NDCG@k and MRR@k per domain under the sampled-candidate protocol.

    Each held-out row is ranked by ``model.predict`` against ``n_negatives``
    sampled items (:func:`sample_candidates`); a NaN score (a cold user or an
    unknown item) ranks last, ties count as broken at random.

    Parameters
    ----------
    model : fitted recommender
        Any estimator with ``predict(X)`` scoring (user, item, domain) rows.
    X_test, X_known : pandas.DataFrame
        See :func:`sample_candidates`.
    k : int, default=10
    n_negatives : int, default=199
    sampling : {"uniform", "popularity"}, default="uniform"
    random_state : int, default=0
        Seeds the candidates, so that every model meets the same ones.

    Returns
    -------
    scores : dict
        Domain -> ``{"hr": float, "ndcg": float, "mrr": float}``.
    """
    X_test = check_interactions(X_test, name="X_test")
    candidates = sample_candidates(X_test, X_known, n_negatives, sampling, random_state)
    width = candidates.shape[1]
    rows = pd.DataFrame(
        {
            "user": np.repeat(X_test["user"].to_numpy(), width),
            "item": candidates.ravel(),
            "domain": np.repeat(X_test["domain"].to_numpy(), width),
        }
    )
    scores = np.asarray(model.predict(rows), dtype=float).reshape(-1, width)
    scores = np.nan_to_num(scores, nan=-np.inf)
    out = {}
    for domain, idx in X_test.groupby("domain", sort=False).indices.items():
        out[domain] = {
            "hr": hit_rate_at_k(scores[idx], k),
            "ndcg": sampled_ndcg_at_k(scores[idx], k),
            "mrr": mrr_at_k(scores[idx], k),
        }
    return out


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
