"""Fuzzy c-means (Bezdek) in numpy: fitted centres and memberships of new points."""

import numpy as np


def fcm_memberships(Z, centers, m=2.0):
    """``u_c(z) = 1 / sum_k (|z - v_c| / |z - v_k|) ** (2 / (m - 1))``, rows sum to 1.

    A point on a centre gets membership 1 there (0 elsewhere).
    """
    dist = np.linalg.norm(Z[:, None, :] - centers[None, :, :], axis=2)
    exact = dist < 1e-12
    dist = np.maximum(dist, 1e-12)
    ratio = (dist[:, :, None] / dist[:, None, :]) ** (2.0 / (m - 1.0))
    u = 1.0 / ratio.sum(axis=2)
    hit = exact.any(axis=1)
    u[hit] = exact[hit] / exact[hit].sum(axis=1, keepdims=True)
    return u


def fuzzy_cmeans(Z, n_clusters, m=2.0, max_iter=300, tol=1e-6, random_state=None):
    """Fit fuzzy c-means to the rows of ``Z``.

    Parameters
    ----------
    Z : ndarray of shape (n, d)
    n_clusters : int
    m : float, default=2.0
        Fuzzifier, > 1.
    max_iter : int, default=300
    tol : float, default=1e-6
        Stop when memberships change by less than this (max abs).
    random_state : int, RandomState or None

    Returns
    -------
    centers : ndarray of shape (n_clusters, d)
    memberships : ndarray of shape (n, n_clusters)
    """
    from sklearn.utils import check_random_state

    if m <= 1:
        raise ValueError(f"fuzzifier must be > 1, got {m}")
    Z = np.asarray(Z, dtype=np.float64)
    if n_clusters > len(Z):
        raise ValueError(f"n_clusters={n_clusters} exceeds the {len(Z)} points")
    rng = check_random_state(random_state)
    u = rng.dirichlet(np.ones(n_clusters), size=len(Z))
    for _ in range(max_iter):
        w = u**m
        centers = (w.T @ Z) / w.sum(axis=0)[:, None]
        u_new = fcm_memberships(Z, centers, m)
        done = np.abs(u_new - u).max() < tol
        u = u_new
        if done:
            break
    return centers, u
