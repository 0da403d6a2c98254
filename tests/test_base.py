"""The shared base: seeding, devices, image validation, progress and persistence."""

import pickle
from unittest import mock

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator

from sklearn_suite import SGSConvClassifier
from sklearn_suite.base import (
    check_device,
    check_images,
    check_seed,
    fit_net,
    torch_seeded,
)


class _Est(BaseEstimator):
    """A bare estimator for check_images to set fitted attributes on."""


def test_check_seed():
    assert check_seed(3) == check_seed(3)
    assert check_seed(3) != check_seed(4)
    assert 0 <= check_seed(np.random.RandomState(0)) < 2**31
    assert len({check_seed(None) for _ in range(5)}) > 1


def test_torch_seeded_is_reproducible_and_leaves_global_rng_alone():
    before = torch.get_rng_state()
    with torch_seeded(7):
        a = torch.rand(3)
    with torch_seeded(7):
        b = torch.rand(3)
    assert torch.equal(a, b)
    assert torch.equal(torch.get_rng_state(), before)


def test_check_device():
    assert check_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="device must be"):
        check_device("gpu")
    with mock.patch("torch.cuda.is_available", return_value=False):
        with pytest.raises(ValueError, match="CUDA is not available"):
            check_device("cuda")


@pytest.mark.parametrize(
    "shape, image_shape, expected",
    [
        ((5, 6, 7), None, (1, 6, 7)),
        ((5, 3, 6, 7), None, (3, 6, 7)),
        ((5, 16), None, (1, 4, 4)),
        ((5, 24), (2, 3, 4), (2, 3, 4)),
        ((5, 24), (2, -1, 4), (2, 3, 4)),
        ((5, 7), (1, 1, -1), (1, 1, 7)),
    ],
)
def test_check_images_layouts(shape, image_shape, expected):
    X = np.random.RandomState(0).rand(*shape)
    est = _Est()
    Xc, _ = check_images(est, X, image_shape=image_shape)
    assert Xc.shape == (5, *expected) and Xc.dtype == np.float32
    assert est.image_shape_ == expected and est.n_features_in_ == np.prod(expected)
    np.testing.assert_allclose(Xc.reshape(5, -1), X.reshape(5, -1), rtol=1e-6)


def test_check_images_scales_uint8():
    X = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    Xc, _ = check_images(_Est(), X)
    np.testing.assert_allclose(Xc[0, 0], [[0, 1], [0.2, 0.4]], rtol=1e-6)


@pytest.mark.parametrize(
    "X, image_shape, match",
    [
        (np.zeros((4, 10)), None, "10 features per row, which is not a square"),
        (np.zeros((4, 10)), (1, 3, 3), r"image_shape=\(1, 3, 3\) cannot hold"),
        (np.zeros((4, 9)), (3, 3), "image_shape must be a tuple of three"),
        (np.zeros((4, 9)), (-1, -1, 9), "image_shape must be"),
        (np.zeros((2, 1, 1, 3, 3)), None, "5 dimension"),
        (np.zeros(4), None, "Reshape your data"),
    ],
)
def test_check_images_errors_name_the_problem(X, image_shape, match):
    with pytest.raises(ValueError, match=match):
        check_images(_Est(), X, image_shape=image_shape)


def test_check_images_targets_for_image_arrays():
    X = np.zeros((4, 3, 3))
    with pytest.raises(ValueError, match="requires y to be passed"):
        check_images(_Est(), X, None)
    with pytest.raises(ValueError, match="different lengths: 4 images and 3"):
        check_images(_Est(), X, [0, 1, 0])
    est = _Est()
    check_images(est, X, [0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"fitted on images of shape \(1, 3, 3\)"):
        check_images(est, np.zeros((2, 4, 4)), reset=False)


def test_version_stamp_warns_on_mismatch(digits16):
    X, y = digits16
    clf = SGSConvClassifier(widths=(4,), max_epochs=1, random_state=0).fit(
        X[:40], y[:40]
    )
    state = clf.__getstate__()
    assert state["_sklearn_suite_version"]
    state["_sklearn_suite_version"] = "0.0.0"
    with pytest.warns(UserWarning, match="pickled with sklearn_suite 0.0.0"):
        SGSConvClassifier().__setstate__(state)
    pickle.loads(pickle.dumps(clf))  # same version: no warning (errors are on)


def test_warmup_decay_rises_then_falls_and_pickles():
    import pickle

    from sklearn_suite.base import warmup_decay

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = warmup_decay(opt, total_steps=10, warmup_steps=4, final_factor=0.1)
    rates = []
    for _ in range(10):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.step()
    assert rates[0] == 0.25 and max(rates) == 1.0
    assert rates.index(1.0) == 4 and rates[-1] < 0.25 and rates[-1] > 0.1
    assert all(a <= b for a, b in zip(rates[:4], rates[1:5]))  # warm-up
    assert all(a >= b for a, b in zip(rates[4:], rates[5:]))  # decay
    pickle.dumps(schedule)  # skorch keeps it in the net


def test_hand_loop_names_the_stage_and_step_that_diverged():
    from sklearn_suite.base import HandLoop, TrainingDivergedError

    loop = HandLoop(5, "toy stage")
    with pytest.raises(TrainingDivergedError, match="toy stage diverged at step 3"):
        for step in loop:
            loop.check(torch.tensor(float("nan") if step == 2 else 1.0))


def test_fit_net_lets_keyboard_interrupt_through_and_ends_training():
    from skorch import NeuralNetRegressor
    from skorch.callbacks import Callback

    class Interrupt(Callback):
        ended = False

        def on_epoch_end(self, net, **kwargs):
            if len(net.history) == 2:
                raise KeyboardInterrupt

        def on_train_end(self, net, **kwargs):
            type(self).ended = True

    X = np.random.RandomState(0).randn(32, 3).astype(np.float32)
    y = X.sum(1, keepdims=True)
    net = NeuralNetRegressor(
        torch.nn.Linear, module__in_features=3, module__out_features=1,
        max_epochs=5, train_split=None, callbacks=[Interrupt()], verbose=0,
    )  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        fit_net(net, X, y)
    assert len(net.history) == 2 and Interrupt.ended
    # plain skorch would have swallowed it
    net.fit(X, y)
    assert len(net.history) == 2


def test_fit_net_still_stops_early():
    from skorch import NeuralNetRegressor
    from skorch.callbacks import EarlyStopping

    X = np.random.RandomState(0).randn(32, 3).astype(np.float32)
    y = X.sum(1, keepdims=True)
    net = NeuralNetRegressor(
        torch.nn.Linear, module__in_features=3, module__out_features=1, lr=0.0,
        max_epochs=20, callbacks=[EarlyStopping(patience=2, sink=lambda m: None)],
        verbose=0,
    )  # fmt: skip
    fit_net(net, X, y)  # lr 0: no progress, stops after 3 epochs, no exception
    assert len(net.history) == 3
