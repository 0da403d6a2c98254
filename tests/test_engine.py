"""What every skorch-trained estimator gets from the engine: checkpoints that
reload, nested module parameters, warm starts, divergence errors and Ctrl-C."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Checkpoint

from sklearn_suite import MulcoTagger, SGSConvClassifier
from sklearn_suite.base import TrainingDivergedError
from sklearn_suite.datasets import make_nested_ner

SGS = dict(widths=(4, 8), max_epochs=3, batch_size=32, random_state=0)
MULCO = dict(hidden=16, emb_dim=16, latent=16, max_epochs=2, random_state=0)


@pytest.fixture(scope="module")
def sentences():
    return make_nested_ner(60, random_state=0)


def test_checkpoint_reloads_to_identical_predictions(digits16, tmp_path):
    X, y = digits16
    checkpoint = Checkpoint(dirname=str(tmp_path), monitor=None)
    clf = SGSConvClassifier(**SGS, callbacks=[checkpoint]).fit(X[:128], y[:128])
    expected = clf.predict_proba(X[128:160])
    other = SGSConvClassifier(**{**SGS, "random_state": 1}).fit(X[:128], y[:128])
    assert not np.allclose(other.predict_proba(X[128:160]), expected)
    other.net_.load_params(checkpoint=checkpoint)
    np.testing.assert_array_equal(other.predict_proba(X[128:160]), expected)


def test_tagger_checkpoint_reloads(sentences, tmp_path):
    X, y = sentences
    checkpoint = Checkpoint(dirname=str(tmp_path), monitor=None)
    tagger = MulcoTagger(**MULCO, callbacks=[checkpoint]).fit(X, y)
    expected = tagger.predict(X[:10])
    torch.nn.init.zeros_(next(tagger.module_.parameters()))
    tagger.net_.load_params(checkpoint=checkpoint)
    assert tagger.predict(X[:10]) == expected


def test_nested_module_parameters_rebuild_the_module(digits16):
    X, y = digits16
    clf = SGSConvClassifier(**SGS).fit(X[:64], y[:64])
    assert clf.net_.module_.features[0].out_channels == 4
    clf.net_.set_params(module__widths=(6, 8))
    assert clf.net_.module_.features[0].out_channels == 6
    clf.net_.set_params(optimizer__momentum=0.5)
    assert clf.net_.optimizer_.param_groups[0]["momentum"] == 0.5


def test_warm_start_continues_training(digits16, sentences):
    X, y = digits16
    clf = SGSConvClassifier(**SGS, warm_start=True).fit(X[:128], y[:128])
    first = clf.net_.module_.features[0].weight.detach().clone()
    net = clf.net_
    clf.fit(X[:128], y[:128])
    assert clf.net_ is net and len(clf.history_) == 2 * SGS["max_epochs"]
    assert not torch.equal(first, clf.net_.module_.features[0].weight)
    # without warm_start, a new net from scratch
    fresh = SGSConvClassifier(**SGS).fit(X[:128], y[:128])
    assert len(fresh.fit(X[:128], y[:128]).history_) == SGS["max_epochs"]
    with pytest.raises(ValueError, match="same classes"):
        clf.fit(X[:128], y[:128] % 2)

    X, y = sentences
    tagger = MulcoTagger(**MULCO, warm_start=True).fit(X, y)
    losses = list(tagger.fit(X, y).history_[:, "train_loss"])
    assert len(losses) == 2 * MULCO["max_epochs"]


def test_divergent_training_stops_with_a_named_error(digits16, sentences):
    X, y = digits16
    with pytest.raises(TrainingDivergedError, match="SGSConvClassifier diverged.*lr"):
        SGSConvClassifier(**{**SGS, "lr": 1e6, "lr_schedule": None}).fit(
            X[:128], y[:128]
        )
    X, y = sentences
    with pytest.raises(TrainingDivergedError, match="MulcoTagger diverged in epoch"):
        MulcoTagger(**{**MULCO, "lr": 1e9}).fit(X, y)
