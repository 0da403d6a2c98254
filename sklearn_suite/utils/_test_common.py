"""Tiny instances and data for the common tests (``tests/test_common.py``).

Every public estimator is listed here once. scikit-learn's ``check_estimator``
runs on the estimators that accept 2-D arrays (``SKLEARN_CHECK_INSTANCES``); the
library's own API checks run on every estimator (``api_cases``).
"""

import numpy as np

from sklearn_suite.utils.estimator_checks import ApiCase, BadInput


def _sgs():
    from sklearn_suite import SGSConvClassifier

    return SGSConvClassifier(widths=(4,), max_epochs=2, batch_size=16, random_state=0)


def _la3():
    from sklearn_suite import LabelAwareAugmenter

    return LabelAwareAugmenter(
        proxy_max_epochs=1,
        n_init=2,
        n_rounds=1,
        queue_size=1,
        n_members=1,
        predictor_max_epochs=5,
        top_k=2,
        random_state=0,
    )


# ``image_shape=(1, 1, -1)`` reads each row of scikit-learn's tabular check data
# (2, 3, 5, 10 ... features) as a one-row image; the default ``None`` would
# reject every non-square feature count by design.


def sklearn_check_instances():
    """Estimators that take 2-D arrays, for scikit-learn's checks."""
    return [_sgs().set_params(image_shape=(1, 1, -1), max_epochs=3)]


def sampler_check_instances():
    """Samplers, for imbalanced-learn's checks (which include scikit-learn's)."""
    return [_la3().set_params(image_shape=(1, 1, -1))]


# estimator name -> {check name: reason}; empty where every check passes
EXPECTED_FAILED_CHECKS = {
    "LabelAwareAugmenter": {
        "check_samplers_pandas_sparse": (
            "images are dense; sparse input is rejected with a TypeError (the "
            "sparse input tag is False, but this check runs regardless)"
        ),
    },
    "AIOPRegressor": {},
    "CATARTRecommender": {},
    "GENNAPERegressor": {},
    "GlyphDrawGenerator": {},
    "MulcoTagger": {},
    "R5RuleLearner": {},
    "RecGURURecommender": {},
    "SGSConvClassifier": {},
}


def _digit_images():
    from sklearn_suite.datasets import load_digit_images

    X, y = load_digit_images(size=8, return_X_y=True)
    return X[:60], np.array(["zero", "one", "two"])[y[:60] % 3]


def _image_bad_inputs():
    X, _ = _digit_images()
    nan, inf = X.copy(), X.copy()
    nan[0, 0, 0, 0], inf[1, 0, 2, 2] = np.nan, np.inf
    return [
        BadInput("NaN", nan, "NaN"),
        BadInput("inf", inf, "infinity"),
        BadInput("no samples", X[:0], "0 sample"),
        BadInput("5-D array", X[:, None], "5 dimension"),
        BadInput("strings", np.full((60, 64), "a"), "could not convert|string"),
        BadInput("non-square rows", X.reshape(60, -1)[:, :63], "not a square"),
        BadInput("other image size", X[:, :, :4, :4], "fitted on images", "predict"),
    ]


def _augment_once(estimator, X, y):
    return estimator.augment(X, y, random_state=0)


def _la3_bad_inputs():
    X, y = _digit_images()
    lonely = y.copy()
    lonely[0] = "lonely"
    return [
        *[bad for bad in _image_bad_inputs() if bad.method == "fit"],
        BadInput("a label with one sample", X, "at least 2 samples", y=lonely),
        BadInput(
            "unseen label",
            X[:2],
            "not seen in fit",
            "augment",
            y=np.array(["zero", "nine"]),
        ),
    ]


def _mulco():
    from sklearn_suite import MulcoTagger

    return MulcoTagger(
        hidden=16, emb_dim=16, latent=16, max_epochs=2, max_length=60, random_state=0
    )


def _sentences():
    from sklearn_suite.datasets import make_nested_ner

    return make_nested_ner(40, random_state=0)


def _mulco_bad_inputs():
    X, y = _sentences()
    return [
        BadInput("a non-str sentence", [*X[:-1], 5], r"X\[39\] must be a str"),
        BadInput("a bare str", "一句话", "X must be a list of str"),
        BadInput(
            "offsets outside the text",
            X,
            "0 <= start < end",
            y=[[(0, 999, "Time")], *y[1:]],
        ),
        BadInput(
            "end before start", X, "0 <= start < end", y=[[(3, 1, "Time")], *y[1:]]
        ),
        BadInput("an empty label", X, "non-empty str", y=[[(0, 1, "")], *y[1:]]),
        BadInput("a sentence over max_length", ["长" * 61], "max_length=60", "predict"),
    ]


def _gennape():
    from sklearn_suite import GENNAPERegressor

    return GENNAPERegressor(
        n_clusters=2, cl_max_epochs=2, max_epochs=2, batch_size=8, width=24, n_layers=2,
        random_state=0,
    )  # fmt: skip


def _small_networks():
    from sklearn_suite.datasets import build_network
    from sklearn_suite.datasets._nas_families import sample_specs

    specs = sample_specs("cell201", 6, random_state=0) + sample_specs(
        "resnet", 6, random_state=0
    )
    nets = [build_network(spec) for spec in specs]
    return nets, np.linspace(40.0, 90.0, len(nets))


def _untraceable_module():
    """A module fx cannot trace (defined here so torch is imported late)."""
    from torch import nn

    class Branchy(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    return Branchy()


def _gennape_bad_inputs():
    X, y = _small_networks()
    return [
        BadInput("a bare module", X[0], "must be a list"),
        BadInput("an empty list", [], "empty"),
        BadInput("a non-network item", [*X[:-1], "conv3x3"], r"X\[11\] must be"),
        BadInput("NaN target", X, "NaN", y=np.r_[y[:-1], np.nan]),
        BadInput("too few targets", X, "different lengths", y=y[:-1]),
        BadInput("2-D targets", X, "1-D", y=y[:, None]),
        BadInput("an untraceable module", [*X[:-1], _untraceable_module()], "Branchy"),
        BadInput("a non-network item", ["conv"], "must be", "predict"),
    ]


def _aiop():
    from sklearn_suite import AIOPRegressor

    return AIOPRegressor(
        max_epochs=2,
        adapter_max_epochs=2,
        batch_size=8,
        width=24,
        n_layers=2,
        random_state=0,
    )


def _aiop_bad_inputs():
    X, y = _small_networks()
    return [
        *_gennape_bad_inputs(),
        BadInput("negative FLOPs", X, "non-negative", "predict", y=-np.ones(len(X))),
        BadInput("FLOPs of another length", X, "one finite value", "predict", y=[1.0]),
    ]


def _catart():
    from sklearn_suite.recommend import CATARTRecommender

    return CATARTRecommender(
        n_factors=8, mf_max_epochs=2, cat_max_epochs=2, art_max_epochs=2,
        batch_size=128, random_state=0,
    )  # fmt: skip


def _interactions():
    from sklearn_suite.datasets import make_cross_domain_interactions

    return make_cross_domain_interactions(n_users=120, random_state=0).train, None


def _catart_bad_inputs():
    import pandas as pd

    X, _ = _interactions()
    return [
        BadInput("a missing column", X.drop(columns="domain"), "missing the columns"),
        BadInput("NaN ids", X.assign(item=X.item.where(X.index > 0)), "contains NaN"),
        BadInput(
            "an empty domain",
            X.assign(domain=pd.Categorical(X.domain, categories=[*range(5), 7])),
            r"domains \[7\] have no interactions",
        ),
        BadInput("an array", X.to_numpy(), "pandas DataFrame"),
        BadInput("an unknown domain", [0, 1], "unknown domain", "recommend", y="x"),
    ]


def _recguru():
    from sklearn_suite.recommend import RecGURURecommender

    return RecGURURecommender(
        d_model=8, n_blocks=1, d_ff=16, max_len=8, batch_size=32, pretrain_steps=2,
        gan_steps=2, tune_steps=2, random_state=0,
    )  # fmt: skip


def _sequences():
    from sklearn_suite.datasets import make_cross_domain_sequences

    data = make_cross_domain_sequences(n_users=(50, 40), random_state=0)
    return data.train, None


def _recguru_bad_inputs():
    X, _ = _sequences()
    late = X.groupby(["user", "domain"]).tail(1).assign(timestamp=-1.0)
    return [
        BadInput("no timestamp", X.drop(columns="timestamp"), r"\['timestamp'\]"),
        BadInput(
            "NaN timestamps",
            X.assign(timestamp=X.timestamp.where(X.index > 0)),
            "contains NaN",
        ),
        BadInput("str timestamps", X.assign(timestamp="x"), "numeric or datetime"),
        BadInput("three domains", X.assign(domain=X.index % 3), "two domains"),
        BadInput("held-out items before the history", late, "non-monotonic", "score"),
        BadInput("an unknown domain", [0, 1], "unknown domain", "transform", y="x"),
        BadInput(
            "an unknown domain",
            X.assign(domain="x"),
            "unknown domain",
            "predict",
        ),
    ]


def _r5():
    from sklearn_suite.reasoning import R5RuleLearner

    return R5RuleLearner(n_invented=4, n_playouts=4, max_epochs=1, random_state=0)


def _stories():
    from sklearn_suite.datasets import make_kinship_stories

    data = make_kinship_stories(k=(2, 3), n=15, random_state=0)
    return data.X, data.y


def _r5_bad_inputs():
    X, y = _stories()
    story = {
        "edges": [("a", "father", "b"), ("b", "brother", "c")],
        "query": ("a", "c"),
    }
    return [
        BadInput(
            "an edge that is not a triple",
            [{"edges": [("a", "father")], "query": ("a", "b")}] + X[1:],
            r"not a \(head, relation, tail\) triple",
        ),
        BadInput(
            "a query entity not in the story",
            [{**story, "query": ("a", "zz")}] + X[1:],
            "not in the story",
        ),
        BadInput(
            "an empty story", [{"edges": [], "query": ("a", "b")}] + X[1:], "empty"
        ),
        BadInput("a bare dict", story, "list of stories"),
        BadInput("labels of another length", X, "labels", y=y[:-1]),
        BadInput(
            "an empty story", [{"edges": [], "query": ("a", "b")}], "empty", "predict"
        ),
    ]


def _glyphdraw():
    from sklearn_suite.generate import GlyphDrawGenerator, GlyphRecognizer

    return GlyphDrawGenerator(
        unet_channels=(8, 16),
        context_dim=16,
        base_steps=3,
        glyph_steps=3,
        batch_size=8,
        num_inference_steps=2,
        ocr_model=GlyphRecognizer(n_scenes=100, max_epochs=1),
        random_state=0,
    )


def _glyph_scenes():
    from sklearn_suite.datasets import make_glyph_scenes

    return make_glyph_scenes(24, image_size=16, random_state=0), None


def _glyphdraw_bad_inputs():
    X, _ = _glyph_scenes()
    first_text = int(np.flatnonzero(X["text"] != "")[0])
    box = list(X["box"])
    box[first_text] = (0.5, 0.5, 1.2, 0.9)
    text = list(X["text"])
    text[first_text] = "\ue000"
    return [
        BadInput("a box outside [0, 1]", X.assign(box=box), r"lie in \[0, 1\]"),
        BadInput("text with no glyph in the font", X.assign(text=text), "no glyph"),
        BadInput(
            "images without channels",
            X.assign(image=[im[..., 0] for im in X["image"]]),
            "H x W x 3",
        ),
        BadInput("no rows", X.head(0), "empty"),
        BadInput("an array instead of a table", np.stack(X["image"]), "DataFrame"),
        BadInput("a box outside [0, 1]", X.assign(box=box), r"\[0, 1\]", "predict"),
    ]


def api_cases():
    """One :class:`ApiCase` per public estimator."""
    return [
        ApiCase(_aiop(), _small_networks, _aiop_bad_inputs()),
        ApiCase(_gennape(), _small_networks, _gennape_bad_inputs()),
        ApiCase(_glyphdraw(), _glyph_scenes, _glyphdraw_bad_inputs()),
        ApiCase(_catart(), _interactions, _catart_bad_inputs()),
        ApiCase(_mulco(), _sentences, _mulco_bad_inputs()),
        ApiCase(_r5(), _stories, _r5_bad_inputs()),
        ApiCase(_recguru(), _sequences, _recguru_bad_inputs()),
        ApiCase(_sgs(), _digit_images, _image_bad_inputs()),
        ApiCase(
            _la3().set_params(top_k=3),
            _digit_images,
            _la3_bad_inputs(),
            predict=_augment_once,
        ),
    ]
