"""Rank correlation and NDCG for performance predictors (GENNAPE's protocol)."""

import numpy as np
from scipy import stats
from sklearn.metrics import make_scorer, ndcg_score


def _check_pair(y_true, y_pred):
    y_true = np.asarray(y_true, dtype=float).ravel()
    y_pred = np.asarray(y_pred, dtype=float).ravel()
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true and y_pred have different lengths: {len(y_true)} != {len(y_pred)}"
        )
    if len(y_true) < 2:
        raise ValueError("rank metrics need at least 2 samples")
    return y_true, y_pred


def spearman_score(y_true, y_pred):
    """Spearman rank correlation (SRCC); 0 when either side is constant."""
    y_true, y_pred = _check_pair(y_true, y_pred)
    if np.ptp(y_true) == 0 or np.ptp(y_pred) == 0:
        return 0.0
    return float(stats.spearmanr(y_true, y_pred).statistic)


def kendall_score(y_true, y_pred):
    """Kendall tau-b; 0 when either side is constant."""
    y_true, y_pred = _check_pair(y_true, y_pred)
    if np.ptp(y_true) == 0 or np.ptp(y_pred) == 0:
        return 0.0
    return float(stats.kendalltau(y_true, y_pred).statistic)


def ndcg_score_at_k(y_true, y_pred, k=10):
    """NDCG@k with the whole set as one query, relevance = min-max(y_true) * 20.

    This is GENNAPE's definition: how well the predicted top-k architectures
    match the truly best ones.
    """
    y_true, y_pred = _check_pair(y_true, y_pred)
    span = np.ptp(y_true)
    relevance = (
        (y_true - y_true.min()) / span * 20 if span > 0 else np.zeros_like(y_true)
    )
    return float(ndcg_score(relevance[None], y_pred[None], k=k))


spearman_scorer = make_scorer(spearman_score)
kendall_scorer = make_scorer(kendall_score)
ndcg_at_10_scorer = make_scorer(ndcg_score_at_k, k=10)
