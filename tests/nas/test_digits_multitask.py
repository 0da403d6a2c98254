import numpy as np
import pytest

from sklearn_suite.datasets import (
    KEYPOINT_NAMES,
    ink_keypoints,
    load_digits_multitask,
    load_digits_nas,
    make_ink_tasks,
)


def test_ink_keypoints_of_a_drawn_shape():
    image = np.zeros((1, 8, 8))
    image[0, 2, 3:6] = 1.0  # a horizontal bar on row 2
    image[0, 3:7, 4] = 1.0  # and a vertical bar below its middle
    kp = dict(zip(KEYPOINT_NAMES, ink_keypoints(image)[0]))
    np.testing.assert_allclose(kp["top"], [2, 4])
    np.testing.assert_allclose(kp["bottom"], [6, 4])
    np.testing.assert_allclose(kp["left"], [2, 3])
    np.testing.assert_allclose(kp["right"], [2, 5])
    np.testing.assert_allclose(kp["centroid"], [(3 * 2 + 3 + 4 + 5 + 6) / 7, 4])
    with pytest.raises(ValueError, match="no pixel above"):
        ink_keypoints(np.zeros((1, 8, 8)))


def test_ink_tasks_share_the_nas_split_and_targets_follow_the_clean_image():
    data = make_ink_tasks(noise=0.3, random_state=0)
    assert data.X_train.shape == (898, 1, 8, 8) and data.X_test.shape == (899, 1, 8, 8)
    np.testing.assert_array_equal(data.masks_train, data.X_train[:, 0] > 0.25)
    # test inputs are noisy, their masks come from the clean images
    assert not np.array_equal(data.masks_test, data.X_test[:, 0] > 0.25)
    counts = np.bincount(data.labels_train)
    assert counts.max() - counts.min() <= 4 and counts.sum() == 898  # stratified
    again = make_ink_tasks(noise=0.3, random_state=0)
    np.testing.assert_array_equal(data.X_test, again.X_test)


def test_shipped_multitask_table():
    data = load_digits_multitask()
    frame = data.frame
    assert frame.groupby("family").size().to_dict() == dict.fromkeys(
        ("cell201", "inception", "mbconv", "resnet"), 100
    )
    for column in ("accuracy", "seg_miou", "kp_pck", "seg_miou_pseudo"):
        assert frame[column].between(0, 100).all(), column
    # task 1 is the NAS table's seed-0 training, reproduced exactly
    nas = load_digits_nas().frame.set_index(["family", "index"])
    seed0 = nas.loc[list(zip(frame.family, frame["index"])), "accuracy_seed0"]
    np.testing.assert_allclose(frame["accuracy"], seed0.to_numpy(), atol=1e-3)
    # task labels are the mean of their three fine-tuning runs
    for column in ("seg_miou", "kp_pck"):
        runs = frame[[f"{column}_{run}" for run in range(3)]]
        np.testing.assert_allclose(frame[column], runs.mean(1), rtol=1e-5)
        assert runs.notna().all().all() and not runs[f"{column}_1"].equals(
            runs[f"{column}_2"]
        )
    # pseudo-labels are cheaper than ground truth and track it
    assert frame["pseudo_seconds"].mean() < frame["seg_seconds"].mean()
    assert frame[["seg_miou", "seg_miou_pseudo"]].corr(method="spearman").iloc[0, 1] > 0
    assert len(data.specs) == len(frame) and data.input_shape == (1, 8, 8)
