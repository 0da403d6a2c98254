"""SGSConvClassifier as a scikit-learn estimator."""

import io
from unittest import mock

import joblib
import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV, cross_val_score
from skorch.exceptions import DeviceWarning
from torch import nn

from sklearn_suite import SGSConvClassifier

TINY = dict(widths=(4, 8), max_epochs=2, batch_size=32, random_state=0)


def test_learns_digits_with_string_labels(digits16):
    X, y = digits16
    names = np.array(list("abcdefghij"))[y]
    clf = SGSConvClassifier(widths=(8, 16), max_epochs=5, random_state=0)
    clf.fit(X[:600], names[:600])
    assert list(clf.classes_) == list("abcdefghij")
    pred = clf.predict(X[600:900])
    assert pred.dtype.kind == "U" and set(pred) <= set(clf.classes_)
    assert clf.score(X[600:900], names[600:900]) > 0.5  # chance is 0.1
    proba = clf.predict_proba(X[:5])
    np.testing.assert_allclose(proba.sum(1), 1)


def test_layouts_give_the_same_model(digits16):
    X, y = digits16
    X = X[:64]
    four = SGSConvClassifier(**TINY).fit(X, y[:64])
    three = SGSConvClassifier(**TINY).fit(X[:, 0], y[:64])
    flat = SGSConvClassifier(**TINY).fit(X.reshape(64, -1), y[:64])
    uint8 = SGSConvClassifier(**TINY).fit((X * 255).round().astype(np.uint8), y[:64])
    p = four.predict_proba(X)
    np.testing.assert_array_equal(p, three.predict_proba(X[:, 0]))
    np.testing.assert_array_equal(p, flat.predict_proba(X.reshape(64, -1)))
    assert four.image_shape_ == three.image_shape_ == flat.image_shape_ == (1, 16, 16)
    np.testing.assert_allclose(
        uint8.predict_proba((X * 255).round().astype(np.uint8)), p, atol=1e-2
    )


def test_multichannel_images_and_resnet():
    rng = np.random.RandomState(0)
    X = rng.rand(48, 3, 8, 8).astype(np.float32)
    y = (X[:, 0].mean((1, 2)) > X[:, 1].mean((1, 2))).astype(int)
    clf = SGSConvClassifier(module="resnet", **TINY).fit(X, y)
    assert clf.n_features_in_ == 3 * 8 * 8
    assert "blocks.0.conv1" in clf.scalings_
    assert not any("shortcut" in name for name in clf.scalings_)


class TinyNet(nn.Module):
    def __init__(self, in_channels, n_classes, hidden=6):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, hidden, 3, padding=1)
        self.mix = nn.Conv2d(hidden, hidden, 1)
        self.fc = nn.Linear(hidden, n_classes)

    def forward(self, x):
        return self.fc(self.mix(torch.relu(self.conv(x))).mean((2, 3)))


class NoArgsNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 5, padding=2)

    def forward(self, x):
        return self.conv(x).mean((2, 3))


def test_user_modules(digits16):
    X, y = digits16
    clf = SGSConvClassifier(module=TinyNet, module_params={"hidden": 5}, **TINY)
    clf.fit(X[:64], y[:64])
    assert clf.net_.module_.conv.out_channels == 5
    assert list(clf.scalings_) == ["conv"]  # the 1x1 'mix' conv is not scaled
    two = (y[:64] % 2).astype(int)
    clf = SGSConvClassifier(module=NoArgsNet, **TINY).fit(X[:64], two)
    assert clf.scalings_["conv"].shape == (5, 5)


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"module": TinyNet(1, 2)}, TypeError, "'module' parameter"),
        ({"module": "alexnet"}, ValueError, "'module' parameter"),
        ({"scaling": "pearson"}, ValueError, "'scaling' parameter"),
        ({"max_epochs": 0}, ValueError, "'max_epochs' parameter"),
        ({"lr": -1.0}, ValueError, "'lr' parameter"),
        ({"lr": float("nan")}, ValueError, "'lr' parameter"),
        ({"lr": float("inf")}, ValueError, "'lr' parameter"),
        ({"lr_schedule": "step"}, ValueError, "'lr_schedule' parameter"),
        (
            {"branches": ("diagonal",), "scaling": "branch"},
            ValueError,
            "Unknown branch",
        ),
        ({"device": "tpu"}, ValueError, "device must be"),
    ],
)
def test_bad_parameters_raise_at_fit(digits16, params, error, match):
    X, y = digits16
    clf = SGSConvClassifier(**{**TINY, **params})
    with pytest.raises(error, match=match):
        clf.fit(X[:40], y[:40])


def test_one_class_is_rejected(digits16):
    X, _ = digits16
    with pytest.raises(ValueError, match="at least 2 classes"):
        SGSConvClassifier(**TINY).fit(X[:10], np.zeros(10))


def test_grid_search_compares_scalings(digits16):
    from sklearn.base import clone
    from sklearn.model_selection import KFold

    from sklearn_suite.conv import branched_equivalent_scaling

    X, y = digits16
    search = GridSearchCV(
        SGSConvClassifier(**TINY),
        {"scaling": [None, "mi", "branch"]},
        cv=2,
        refit=False,
    ).fit(X[:120], y[:120])
    assert len(search.cv_results_["mean_test_score"]) == 3
    # each setting does what it says once fitted, and changes training
    fitted = {
        s: SGSConvClassifier(**{**TINY, "scaling": s}).fit(X[:64], y[:64])
        for s in (None, "mi", "branch")
    }
    losses = {s: f.history_[-1, "train_loss"] for s, f in fitted.items()}
    assert len(set(losses.values())) == 3
    assert fitted[None].scalings_ == {}
    lemma = branched_equivalent_scaling((3, 3), ("square", "horizontal", "vertical"))
    for S in fitted["branch"].scalings_.values():
        np.testing.assert_allclose(S, lemma, rtol=1e-6)
    for S in fitted["mi"].scalings_.values():
        assert S[1, 1] > S[0, 0] and abs(S.mean() - 1) < 1e-5
    # cross-validation clones and seeds: the same scores as fitting by hand
    cv = KFold(3)
    scores = cross_val_score(SGSConvClassifier(**TINY), X[:90], y[:90], cv=cv)
    by_hand = [
        clone(SGSConvClassifier(**TINY)).fit(X[tr], y[tr]).score(X[te], y[te])
        for tr, te in cv.split(X[:90])
    ]
    np.testing.assert_array_equal(scores, by_hand)


def test_fit_leaves_global_rng_alone(digits16):
    X, y = digits16
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    SGSConvClassifier(**TINY).fit(X[:64], y[:64])
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state[1])


def test_different_seeds_differ(digits16):
    X, y = digits16
    a = SGSConvClassifier(**TINY).fit(X[:64], y[:64]).predict_proba(X[:10])
    b = SGSConvClassifier(**{**TINY, "random_state": 1}).fit(X[:64], y[:64])
    assert not np.allclose(a, b.predict_proba(X[:10]))


def test_verbose_shows_a_progress_bar(digits16, capsys):
    X, y = digits16
    SGSConvClassifier(**{**TINY, "verbose": 1}).fit(X[:64], y[:64])
    assert "SGSConvClassifier" in capsys.readouterr().err


def test_model_fitted_on_cuda_loads_on_cpu(digits16):
    """Simulated: the net's saved device is CUDA, the loading machine has none."""
    X, y = digits16
    clf = SGSConvClassifier(**TINY).fit(X[:64], y[:64])
    expected = clf.predict_proba(X[:10])
    clf.net_.device = "cuda"
    buffer = io.BytesIO()
    joblib.dump(clf, buffer)
    buffer.seek(0)
    with mock.patch("torch.cuda.is_available", return_value=False):
        with pytest.warns(DeviceWarning):
            loaded = joblib.load(buffer)
    assert str(loaded.net_.device) == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(X[:10]), expected)


@pytest.mark.gpu
def test_fit_on_cuda_matches_api(digits16):
    X, y = digits16
    clf = SGSConvClassifier(**{**TINY, "device": "cuda"}).fit(X[:64], y[:64])
    assert next(clf.net_.module_.parameters()).is_cuda
    assert clf.predict(X[:5]).shape == (5,)


def test_ctrl_c_during_fit_propagates_and_keeps_the_previous_model(digits16):
    """skorch swallows KeyboardInterrupt; the estimator must not."""
    from sklearn_suite.base import EpochProgressBar

    X, y = digits16
    clf = SGSConvClassifier(**{**TINY, "verbose": 1}).fit(X[:64], y[:64])
    before = clf.predict_proba(X[:10])
    with mock.patch.object(
        EpochProgressBar, "on_epoch_end", side_effect=KeyboardInterrupt
    ):
        with pytest.raises(KeyboardInterrupt):
            clf.set_params(random_state=1).fit(X[:64], y[:64])
    np.testing.assert_array_equal(clf.predict_proba(X[:10]), before)
