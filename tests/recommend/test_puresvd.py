"""PureSVD against a hand computation with numpy's full SVD."""

import numpy as np
import pandas as pd
import pytest

from sklearn_suite.recommend import PureSVDRecommender


def _frame(R, domain, offset=0):
    users, items = np.nonzero(R)
    return pd.DataFrame({"user": users, "item": items + offset, "domain": domain})


def _hand_scores(R, k):
    """r_u V_k V_k^T with V_k the top-k right singular vectors of R."""
    _, _, Vt = np.linalg.svd(R, full_matrices=False)
    V = Vt[:k].T
    return R @ V @ V.T


@pytest.fixture
def matrices():
    rng = np.random.RandomState(0)
    A = (rng.random_sample((12, 9)) < 0.4).astype(float)
    B = (rng.random_sample((12, 6)) < 0.4).astype(float)
    A[:, 0] = B[:, 0] = 1  # every user present in both domains
    return A, B


def _all_pairs(n_users, n_items, domain):
    users, items = np.meshgrid(np.arange(n_users), np.arange(n_items), indexing="ij")
    return pd.DataFrame(
        {"user": users.ravel(), "item": items.ravel(), "domain": domain}
    )


def test_per_domain_scores_equal_the_hand_computation(matrices):
    A, B = matrices
    X = pd.concat([_frame(A, "a"), _frame(B, "b")], ignore_index=True)
    model = PureSVDRecommender(n_components=3, random_state=0).fit(X)
    for R, name in ((A, "a"), (B, "b")):
        got = model.predict(_all_pairs(*R.shape, name)).reshape(R.shape)
        np.testing.assert_allclose(got, _hand_scores(R, 3), atol=1e-6)


def test_joint_factorises_all_items_and_ranks_only_the_domains_own(matrices):
    A, B = matrices
    X = pd.concat([_frame(A, "a"), _frame(B, "b", offset=100)], ignore_index=True)
    model = PureSVDRecommender(n_components=4, joint=True, random_state=0).fit(X)
    full = _hand_scores(np.hstack([A, B]), 4)
    pairs = _all_pairs(12, 6, "b").assign(item=lambda f: f["item"] + 100)
    got = model.predict(pairs).reshape(B.shape)
    np.testing.assert_allclose(got, full[:, 9:], atol=1e-6)
    top = model.recommend(list(range(12)), "b", k=3)
    assert set(top["item"]) <= set(range(100, 106))
    # the best unseen item of domain b by the hand scores
    masked = np.where(B > 0, -np.inf, full[:, 9:])
    best = top[top["rank"] == 1].set_index("user")["item"] - 100
    users = best.index.to_numpy(dtype=int)
    np.testing.assert_array_equal(best.to_numpy(), masked.argmax(1)[users])


def test_users_absent_from_a_domain_get_popular_items_unless_joint():
    X = pd.DataFrame(
        {"user": [0, 0, 1, 1, 2, 2, 3], "item": [0, 1, 0, 2, 0, 1, 5],
         "domain": ["a"] * 6 + ["b"]}
    )  # fmt: skip
    single = PureSVDRecommender(n_components=1, random_state=0).fit(X)
    with pytest.warns(UserWarning, match="cold users"):
        out = single.recommend([3], "a", k=1)
    assert out["item"].tolist() == [0] and np.isnan(out["score"]).all()
    joint = PureSVDRecommender(n_components=1, joint=True, random_state=0).fit(X)
    assert np.isfinite(joint.predict(pd.DataFrame(
        {"user": [0], "item": [5], "domain": ["b"]}
    ))).all()  # fmt: skip
