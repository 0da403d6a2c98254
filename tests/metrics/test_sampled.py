import numpy as np
import pytest

from sklearn_suite.metrics import hit_rate_at_k, mrr_at_k, sampled_ndcg_at_k


def test_ranks_of_the_positive():
    scores = np.array([[0.9, 0.1, 0.2], [0.3, 0.5, 0.4], [0.1, 0.5, 0.9]])
    # 0-based ranks 0, 2, 2
    assert hit_rate_at_k(scores, 1) == pytest.approx(1 / 3)
    assert hit_rate_at_k(scores, 3) == 1.0
    assert mrr_at_k(scores, 3) == pytest.approx((1 + 1 / 3 + 1 / 3) / 3)
    expected = (1 + 2 / np.log2(4)) / 3
    assert sampled_ndcg_at_k(scores, 3) == pytest.approx(expected)


def test_ties_count_as_random_order():
    # a constant scorer with 199 negatives hits the top 10 with probability 10/200
    flat = np.zeros((4, 200))
    assert hit_rate_at_k(flat, 10) == pytest.approx(0.05)
    # positive tied with one negative, one negative above: rank 1 or 2
    assert hit_rate_at_k([[0.5, 0.9, 0.5]], 2) == pytest.approx(0.5)
    assert mrr_at_k([[0.5, 0.9, 0.5]], 3) == pytest.approx((1 / 2 + 1 / 3) / 2)


def test_minus_infinity_ranks_last_and_nan_is_rejected():
    assert hit_rate_at_k([[-np.inf, 0.0, 1.0]], 2) == 0.0
    with pytest.raises(ValueError, match="NaN"):
        hit_rate_at_k([[np.nan, 0.0]], 1)
    with pytest.raises(ValueError, match="positive in column 0"):
        hit_rate_at_k([0.1, 0.2], 1)
    with pytest.raises(ValueError, match="positive int"):
        mrr_at_k([[0.1, 0.2]], 0)
