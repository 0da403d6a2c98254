"""Synthetic multi-domain interactions with known user and item factors."""

import numpy as np
import pandas as pd
from scipy.stats import ortho_group
from sklearn.utils import Bunch, check_random_state


def _split_per_user(frame, fractions, rng):
    """Assign each user's items in each domain to train / valid / test.

    A user-domain pair with n items gets ``round(n * f)`` validation and test items
    (at least one each when n >= 3); the rest are training items.
    """
    frame = frame.assign(_key=rng.random(len(frame))).sort_values(
        ["domain", "user", "_key"], kind="stable"
    )
    group = frame.groupby(["domain", "user"], sort=False)
    rank = group.cumcount().to_numpy()
    n = group["item"].transform("size").to_numpy()
    n_valid = np.where(n >= 3, np.maximum(np.round(n * fractions[1]), 1), 0)
    n_test = np.where(n >= 3, np.maximum(np.round(n * fractions[2]), 1), 0)
    part = np.where(
        rank < n_test, "test", np.where(rank < n_test + n_valid, "valid", "train")
    )
    frame = frame.drop(columns="_key")
    return {
        name: frame[part == name].sort_values(["domain", "user", "item"])
        .reset_index(drop=True)
        for name in ("train", "valid", "test")
    }  # fmt: skip


def make_cross_domain_interactions(
    n_users=3000,
    n_items=(800, 600, 500, 400, 300),
    relatedness=(0.8, 0.8, 0.6, 0.4, 0.0),
    activity=(40, 20, 10, 5, 3),
    participation=(0.9, 0.8, 0.7, 0.7, 0.6),
    n_factors=8,
    temperature=0.5,
    popularity=1.0,
    split=(0.8, 0.1, 0.1),
    random_state=None,
):
    """Implicit feedback in several domains whose users share a global taste.

    Each user has a global factor ``g_u`` and, per domain ``d``, a specific factor
    ``s_u^d`` (all standard normal, ``n_factors`` wide). Their preference in ``d`` is
    ``p_u^d = sqrt(rho_d) A_d g_u + sqrt(1 - rho_d) s_u^d`` with ``A_d`` a random
    rotation and ``rho_d`` the domain's relatedness: ``rho_d = 0`` makes a domain
    unrelated to every other (transferring into it can only hurt). A user takes part
    in domain ``d`` with probability ``participation[d]`` and then interacts with
    ``1 + Poisson(activity[d] - 1)`` distinct items drawn without replacement from
    ``softmax(p_u^d . q_i / (sqrt(n_factors) * temperature) + b_i)``, items
    ``q_i ~ N(0, I)`` with a Zipf popularity offset ``b_i = -popularity *
    log(rank_i)``. Each user's items in each domain are split into train,
    validation and test (at least one validation and one test item when the user
    has three or more there).

    Parameters
    ----------
    n_users : int, default=3000
    n_items : sequence of int, default=(800, 600, 500, 400, 300)
        Items per domain; its length is the number of domains.
    relatedness : sequence of float in [0, 1], default=(0.8, 0.8, 0.6, 0.4, 0.0)
    activity : sequence of float, default=(40, 20, 10, 5, 3)
        Mean interactions of a participating user, per domain (dense to sparse).
    participation : sequence of float in (0, 1], default=(0.9, 0.8, 0.7, 0.7, 0.6)
    n_factors : int, default=8
    temperature : float, default=0.5
        Lower is more deterministic choice by preference.
    popularity : float, default=1.0
        Strength of the Zipf popularity skew (0: none).
    split : tuple of 3 float, default=(0.8, 0.1, 0.1)
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    data : Bunch
        ``train``, ``valid``, ``test`` DataFrames (``user``, ``item``, ``domain``:
        ints, domains ``0..D-1``, items numbered within their domain);
        ``global_factors`` (n_users, n_factors); ``domain_factors`` (D, n_users,
        n_factors) = the preferences ``p^d``; ``item_factors`` (list of
        (n_items_d, n_factors)); ``item_popularity`` (list of offsets);
        ``relatedness``.

    Examples
    --------
    >>> from sklearn_suite.datasets import make_cross_domain_interactions
    >>> data = make_cross_domain_interactions(n_users=200, random_state=0)
    >>> sorted(data.train.columns), sorted(data.train.domain.unique().tolist())
    (['domain', 'item', 'user'], [0, 1, 2, 3, 4])
    """
    n_domains = len(n_items)
    for name, values in [
        ("relatedness", relatedness),
        ("activity", activity),
        ("participation", participation),
    ]:
        if len(values) != n_domains:
            raise ValueError(
                f"{name} needs one value per domain ({n_domains}); got {len(values)}."
            )
    if not all(0 <= r <= 1 for r in relatedness):
        raise ValueError("relatedness values must lie in [0, 1].")
    if not all(0 < p <= 1 for p in participation):
        raise ValueError("participation values must lie in (0, 1].")
    if len(split) != 3 or not np.isclose(sum(split), 1):
        raise ValueError(f"split must be 3 fractions summing to 1; got {split}.")
    rng = check_random_state(random_state)
    g = rng.standard_normal((n_users, n_factors))
    prefs, item_factors, offsets, frames = [], [], [], []
    scale = np.sqrt(n_factors) * temperature
    for d in range(n_domains):
        rotation = ortho_group.rvs(n_factors, random_state=rng)
        specific = rng.standard_normal((n_users, n_factors))
        rho = relatedness[d]
        p = np.sqrt(rho) * g @ rotation.T + np.sqrt(1 - rho) * specific
        q = rng.standard_normal((n_items[d], n_factors))
        b = -popularity * np.log1p(rng.permutation(n_items[d]))
        prefs.append(p)
        item_factors.append(q)
        offsets.append(b)
        active = np.flatnonzero(rng.random(n_users) < participation[d])
        counts = np.minimum(1 + rng.poisson(activity[d] - 1, len(active)), n_items[d])
        users, items = [], []
        for start in range(0, len(active), 4096):  # bounded memory at any n_users
            chunk = active[start : start + 4096]
            logits = p[chunk] @ q.T / scale + b
            # Gumbel top-k: sampling without replacement from softmax(logits)
            keys = logits + rng.gumbel(size=logits.shape)
            order = np.argsort(-keys, axis=1)
            for row, (u, c) in enumerate(zip(chunk, counts[start : start + 4096])):
                users.append(np.full(c, u))
                items.append(order[row, :c])
        frames.append(
            pd.DataFrame(
                {
                    "user": np.concatenate(users) if users else [],
                    "item": np.concatenate(items) if items else [],
                    "domain": d,
                }
            )
        )
    frame = pd.concat(frames, ignore_index=True).astype(int)
    parts = _split_per_user(frame, split, rng)
    return Bunch(
        **parts,
        global_factors=g,
        domain_factors=np.stack(prefs),
        item_factors=item_factors,
        item_popularity=offsets,
        relatedness=tuple(relatedness),
    )
