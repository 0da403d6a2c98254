import numpy as np
import pytest
from scipy import stats

from sklearn_suite.metrics import kendall_score, ndcg_score_at_k, spearman_score


def test_rank_correlations_match_scipy():
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=50), rng.normal(size=50)
    assert spearman_score(y, p) == pytest.approx(stats.spearmanr(y, p).statistic)
    assert kendall_score(y, p) == pytest.approx(stats.kendalltau(y, p).statistic)
    assert spearman_score(y, 3 * y + 1) == pytest.approx(1.0)
    assert kendall_score(y, -y) == pytest.approx(-1.0)
    assert spearman_score(y, np.ones(50)) == 0.0


def test_ndcg_at_k_rewards_the_true_top_k():
    y = np.arange(100, dtype=float)
    assert ndcg_score_at_k(y, y, k=10) == pytest.approx(1.0)
    assert ndcg_score_at_k(y, -y, k=10) < 0.2
    # only the order of the top-k predictions matters
    p = y.copy()
    p[:50] = p[:50][::-1]
    assert ndcg_score_at_k(y, p, k=10) == pytest.approx(1.0)
    # relevance is min-max(y) * 20: invariant to affine changes of y
    assert ndcg_score_at_k(5 * y + 3, p[::-1], k=10) == pytest.approx(
        ndcg_score_at_k(y, p[::-1], k=10)
    )


def test_rank_metrics_reject_mismatched_input():
    with pytest.raises(ValueError, match="different lengths"):
        spearman_score([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least 2"):
        kendall_score([1], [1])
