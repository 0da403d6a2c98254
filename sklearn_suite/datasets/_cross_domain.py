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


def _draw_sequences(rng, prefs, q, b, lengths, transition, neighbours, drift, scale):
    """Sequences drawn one step at a time for all users at once.

    The next item maximises ``p_u(t) . q_j / scale + b_j + transition [j is one of
    the last item's nearest neighbours] + Gumbel`` over unseen items; then the
    preference drifts towards the chosen item and is renormalised.
    """
    n_users, n_items = len(prefs), len(q)
    norm = np.sqrt(q.shape[1])
    p = prefs.copy()
    seqs = np.full((n_users, lengths.max()), -1)
    consumed = np.zeros((n_users, n_items), dtype=bool)
    bonus = np.zeros((n_users, n_items))
    rows = np.arange(n_users)
    for t in range(lengths.max()):
        logits = p @ q.T / scale + b + bonus + rng.gumbel(size=(n_users, n_items))
        logits[consumed] = -np.inf
        chosen = logits.argmax(1)
        live = t < lengths
        seqs[live, t] = chosen[live]
        consumed[rows[live], chosen[live]] = True
        bonus[:] = 0
        bonus[rows[:, None], neighbours[chosen]] = transition
        p = p + drift * q[chosen]
        p *= norm / np.linalg.norm(p, axis=1, keepdims=True)
    return seqs


def make_cross_domain_sequences(
    n_users=(3000, 2000),
    n_items=(600, 400),
    activity=(30, 6),
    overlap=0.1,
    relatedness=0.8,
    n_factors=8,
    temperature=0.5,
    popularity=1.0,
    drift=0.3,
    transition=2.0,
    n_neighbors=5,
    random_state=None,
):
    """Two domains of timestamped interaction sequences whose users share a taste.

    Every user has a global factor ``g_u ~ N(0, I)`` (one distribution for both
    domains) and, per domain ``d``, a specific factor ``s_u^d``; their initial
    preference there is ``p_u^d = sqrt(rho) A_d g_u + sqrt(1 - rho) s_u^d`` with
    ``A_d`` a random rotation and ``rho = relatedness``. Sequences carry order:
    each next item is drawn without replacement from ``softmax(p_u(t) . q_i /
    (sqrt(n_factors) temperature) + b_i + T[i_{t-1}, i])``, where ``T`` gives a
    ``transition`` bonus to the ``n_neighbors`` items closest to the previous
    one, and the preference drifts, ``p_u(t+1) = normalise(p_u(t) + drift
    q_{i_t})``. Items ``q_i ~ N(0, I)`` with a Zipf popularity offset ``b_i``.

    Domain 1 (the sparse one) is drawn from its own random stream, so for a given
    ``random_state`` it is identical at every ``overlap``; ``overlap`` is the share
    of domain-1 users who are also domain-0 users (same ``g_u``); the other
    domain-0 users are new. Each sequence has ``max(3, 1 + Poisson(activity -
    1))`` items; its last item is the test item, the one before the validation
    item (leave-one-out), the rest is training data.

    Parameters
    ----------
    n_users : tuple of 2 int, default=(3000, 2000)
        Users of domain 0 (dense) and domain 1 (sparse).
    n_items : tuple of 2 int, default=(600, 400)
    activity : tuple of 2 float, default=(30, 6)
        Mean sequence length per domain.
    overlap : float in [0, 1], default=0.1
        Share of domain-1 users who also have a domain-0 sequence.
    relatedness : float in [0, 1], default=0.8
    n_factors : int, default=8
    temperature : float, default=0.5
    popularity : float, default=1.0
    drift : float, default=0.3
        Step of the preference towards each consumed item (0: no drift).
    transition : float, default=2.0
        Logit bonus of the previous item's nearest neighbours (0: none).
    n_neighbors : int, default=5
    random_state : int or None, default=None

    Returns
    -------
    data : Bunch
        ``train``, ``valid``, ``test`` DataFrames (``user``, ``item``, ``domain``,
        ``timestamp``; domains 0 and 1, ints); ``global_factors`` (dict user ->
        ``g_u``); ``overlap_users`` (ndarray); ``item_factors`` (list of 2
        arrays).

    Examples
    --------
    >>> from sklearn_suite.datasets import make_cross_domain_sequences
    >>> data = make_cross_domain_sequences(n_users=(60, 40), overlap=0.5,
    ...                                    random_state=0)
    >>> sorted(data.train.columns)
    ['domain', 'item', 'timestamp', 'user']
    >>> len(data.overlap_users), data.test.groupby("domain").size().tolist()
    (20, [60, 40])
    """
    if len(n_users) != 2 or len(n_items) != 2 or len(activity) != 2:
        raise ValueError("n_users, n_items and activity need one value per domain (2).")
    if not 0 <= overlap <= 1:
        raise ValueError(f"overlap must lie in [0, 1]; got {overlap}.")
    if not 0 <= relatedness <= 1:
        raise ValueError(f"relatedness must lie in [0, 1]; got {relatedness}.")
    n_overlap = int(round(overlap * n_users[1]))
    if n_overlap > n_users[0]:
        raise ValueError(
            f"overlap {overlap} needs {n_overlap} domain-0 users; n_users[0] is "
            f"{n_users[0]}."
        )
    # one stream per domain, so domain 1 does not depend on overlap
    seeds = np.random.SeedSequence(
        check_random_state(random_state).randint(2**31)
    ).spawn(2)
    rngs = [np.random.default_rng(s) for s in seeds]
    g1 = rngs[1].standard_normal((n_users[1], n_factors))
    shared = rngs[0].choice(n_users[1], n_overlap, replace=False)
    g0 = np.vstack(
        [g1[shared], rngs[0].standard_normal((n_users[0] - n_overlap, n_factors))]
    )
    users = [
        np.concatenate([shared, n_users[1] + np.arange(n_users[0] - n_overlap)]),
        np.arange(n_users[1]),
    ]
    g = [g0, g1]
    frames, item_factors = [], [None, None]
    for d, rng in ((1, rngs[1]), (0, rngs[0])):
        rotation = ortho_group.rvs(n_factors, random_state=int(rng.integers(2**31)))
        specific = rng.standard_normal((n_users[d], n_factors))
        prefs = (
            np.sqrt(relatedness) * g[d] @ rotation.T
            + np.sqrt(1 - relatedness) * specific
        )
        q = rng.standard_normal((n_items[d], n_factors))
        b = -popularity * np.log1p(rng.permutation(n_items[d]))
        unit = q / np.linalg.norm(q, axis=1, keepdims=True)
        neighbours = np.argsort(-(unit @ unit.T), axis=1)[:, 1 : n_neighbors + 1]
        lengths = np.clip(1 + rng.poisson(activity[d] - 1, n_users[d]), 3, n_items[d])
        seqs = _draw_sequences(
            rng, prefs, q, b, lengths, transition, neighbours, drift,
            np.sqrt(n_factors) * temperature,
        )  # fmt: skip
        start = rng.uniform(0, 1000, n_users[d])
        gaps = rng.exponential(1.0, seqs.shape).cumsum(1)
        live = seqs >= 0
        row, pos = np.nonzero(live)
        frame = pd.DataFrame(
            {
                "user": users[d][row],
                "item": seqs[live],
                "domain": d,
                "timestamp": start[row] + gaps[live],
                "_rank": lengths[row] - 1 - pos,  # 0 = last
            }
        )
        frames.append(frame)
        item_factors[d] = q
    frame = pd.concat(frames[::-1], ignore_index=True)
    rank = frame.pop("_rank").to_numpy()
    parts = {
        name: frame[mask].reset_index(drop=True)
        for name, mask in (
            ("train", rank >= 2),
            ("valid", rank == 1),
            ("test", rank == 0),
        )
    }
    global_factors = dict(zip(users[1], g1)) | dict(zip(users[0], g0))
    return Bunch(
        **parts,
        global_factors=global_factors,
        overlap_users=np.sort(shared),
        item_factors=item_factors,
    )
