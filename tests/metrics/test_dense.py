import numpy as np
import pytest

from sklearn_suite.metrics import mean_iou_score, pck_score


def test_mean_iou_averages_foreground_and_background():
    y_true = np.array([[1, 1, 0, 0]], bool)
    assert mean_iou_score(y_true, y_true) == 1.0
    assert mean_iou_score(y_true, ~y_true) == 0.0
    # fg IoU 1/2, bg IoU 2/3
    assert mean_iou_score(y_true, np.array([[1, 0, 0, 0]])) == pytest.approx(7 / 12)
    with pytest.raises(ValueError, match="shapes differ"):
        mean_iou_score(y_true, y_true[0])


def test_pck_counts_keypoints_within_the_threshold():
    truth = np.zeros((2, 3, 2))
    pred = truth.copy()
    pred[0, 0] = [0.6, 0.8]  # distance 1.0: correct at threshold 1
    pred[1, 2] = [3.0, 0.0]
    assert pck_score(truth, pred) == pytest.approx(5 / 6)
    assert pck_score(truth, pred, threshold=0.5) == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="n_keypoints, 2"):
        pck_score(truth[..., :1], pred[..., :1])
