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
