"""Top-K metrics of recommendation lists under full ranking."""

import numpy as np


def _hits(relevant, recommended, k):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive int; got {k!r}.")
    recommended = np.asarray(recommended, dtype=object)
    if recommended.ndim != 2:
        raise ValueError(
            "recommended must be 2-D (one ranked list per user); got shape "
            f"{recommended.shape}."
        )
    if len(relevant) != len(recommended):
        raise ValueError(
            f"{len(relevant)} relevant sets for {len(recommended)} ranked lists."
        )
    if recommended.shape[1] < k:
        raise ValueError(f"ranked lists hold {recommended.shape[1]} items, k={k}.")
    relevant = [set(r) for r in relevant]
    keep = [i for i, r in enumerate(relevant) if r]
    if not keep:
        raise ValueError("no user has a relevant item.")
    hits = np.array(
        [[item in relevant[i] for item in recommended[i, :k]] for i in keep], float
    )
    sizes = np.array([len(relevant[i]) for i in keep], float)
    return hits, sizes


def recall_at_k(relevant, recommended, k=10):
    """Mean over users of the share of their relevant items in the top ``k``.

    Parameters
    ----------
    relevant : sequence of collections
        The held-out items of each user. Users with none are ignored.
    recommended : array-like of shape (n_users, >= k)
        Each user's ranked list, best first, seen items already excluded (full
        ranking over the domain's items).
    k : int, default=10

    Returns
    -------
    score : float

    Examples
    --------
    >>> from sklearn_suite.metrics import recall_at_k
    >>> recall_at_k([{1, 2}, {3}], [[1, 5], [4, 6]], k=2)
    0.25
    """
    hits, sizes = _hits(relevant, recommended, k)
    return float(np.mean(hits.sum(1) / sizes))


def precision_at_k(relevant, recommended, k=10):
    """Mean over users of the share of the top ``k`` that is relevant.

    Parameters
    ----------
    relevant : sequence of collections
    recommended : array-like of shape (n_users, >= k)
    k : int, default=10

    Returns
    -------
    score : float

    Examples
    --------
    >>> from sklearn_suite.metrics import precision_at_k
    >>> precision_at_k([{1, 2}, {3}], [[1, 2], [4, 6]], k=2)
    0.5
    """
    hits, _ = _hits(relevant, recommended, k)
    return float(np.mean(hits.sum(1) / k))


def ndcg_at_k(relevant, recommended, k=10):
    """Mean over users of NDCG@k with binary relevance.

    DCG sums ``1 / log2(rank + 1)`` over relevant items in the top ``k``; the ideal
    DCG places ``min(k, n_relevant)`` relevant items first.

    Parameters
    ----------
    relevant : sequence of collections
    recommended : array-like of shape (n_users, >= k)
    k : int, default=10

    Returns
    -------
    score : float

    Examples
    --------
    >>> from sklearn_suite.metrics import ndcg_at_k
    >>> round(ndcg_at_k([{2}], [[1, 2, 3]], k=3), 4)
    0.6309
    """
    hits, sizes = _hits(relevant, recommended, k)
    discounts = 1 / np.log2(np.arange(2, k + 2))
    dcg = hits @ discounts
    ideal = np.cumsum(discounts)[np.minimum(sizes, k).astype(int) - 1]
    return float(np.mean(dcg / ideal))


def _tied_rank_sum(candidate_scores, k, gain):
    """Mean over rows of ``gain(rank)`` for ranks ``< k`` of the positive (column
    0) among its candidates, ties broken uniformly at random (in expectation)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive int; got {k!r}.")
    scores = np.asarray(candidate_scores, dtype=float)
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise ValueError(
            "candidate_scores must be 2-D with the positive in column 0 and at least "
            f"one negative; got shape {scores.shape}."
        )
    if np.isnan(scores).any():
        raise ValueError("candidate_scores contains NaN.")
    positive, negatives = scores[:, :1], scores[:, 1:]
    above = (negatives > positive).sum(1)
    tied = (negatives == positive).sum(1)
    # cumulative gain over ranks 0..r-1; the positive sits uniformly at a rank in
    # [above, above + tied]
    cumulative = np.concatenate([[0.0], np.cumsum(gain(np.arange(k)))])
    low, high = np.minimum(above, k), np.minimum(above + tied + 1, k)
    return float(np.mean((cumulative[high] - cumulative[low]) / (tied + 1)))


def hit_rate_at_k(candidate_scores, k=10):
    """Share of rows whose positive ranks in the top ``k`` of its candidates.

    The sampled-candidate protocol: each row scores one held-out positive
    (column 0) and sampled negatives; ties count as broken at random.

    Parameters
    ----------
    candidate_scores : array-like of shape (n, 1 + n_negatives)
    k : int, default=10

    Returns
    -------
    score : float

    Examples
    --------
    >>> from sklearn_suite.metrics import hit_rate_at_k
    >>> hit_rate_at_k([[0.9, 0.1, 0.5], [0.2, 0.4, 0.8]], k=1)
    0.5
    """
    return _tied_rank_sum(candidate_scores, k, lambda r: np.ones(len(r)))


def sampled_ndcg_at_k(candidate_scores, k=10):
    """NDCG@k of the positive (column 0) among sampled candidates.

    One relevant item per row, so NDCG = ``1 / log2(rank + 2)`` when the 0-based
    rank is below ``k``, else 0.

    Parameters
    ----------
    candidate_scores : array-like of shape (n, 1 + n_negatives)
    k : int, default=10

    Returns
    -------
    score : float

    Examples
    --------
    >>> from sklearn_suite.metrics import sampled_ndcg_at_k
    >>> round(sampled_ndcg_at_k([[0.5, 0.9, 0.1]], k=10), 4)
    0.6309
    """
    return _tied_rank_sum(candidate_scores, k, lambda r: 1 / np.log2(r + 2))


def mrr_at_k(candidate_scores, k=10):
    """Mean reciprocal rank of the positive (column 0), 0 beyond rank ``k``.

    Parameters
    ----------
    candidate_scores : array-like of shape (n, 1 + n_negatives)
    k : int, default=10

    Returns
    -------
    score : float

    Examples
    --------
    >>> from sklearn_suite.metrics import mrr_at_k
    >>> mrr_at_k([[0.5, 0.9, 0.1]], k=10)
    0.5
    """
    return _tied_rank_sum(candidate_scores, k, lambda r: 1 / (r + 1))
