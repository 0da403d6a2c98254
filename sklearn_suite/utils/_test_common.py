"""Tiny instances and data for the common tests (``tests/test_common.py``).

Every public estimator is listed here once. scikit-learn's ``check_estimator``
runs on the estimators that accept 2-D arrays (``SKLEARN_CHECK_INSTANCES``); the
library's own API checks run on every estimator (``api_cases``).
"""

import numpy as np

from sklearn_suite.utils.estimator_checks import ApiCase, BadInput

nan, inf = float("nan"), float("inf")


def _bad_params(*pairs):
    """Hyperparameters ``fit`` must reject before any work, naming them."""
    return [
        BadInput(f"{name}={value!r}", None, f"'{name}' parameter", params={name: value})
        for name, value in pairs
    ]


def _diverging(hint, **params):
    """Settings whose training loss blows up: ``fit`` must stop with the named
    error that says which stage diverged and which parameter to lower."""
    from sklearn_suite.base import TrainingDivergedError

    return BadInput(
        f"diverging {params}",
        None,
        rf"diverged (in epoch|at step) \d+.*Lower {hint}",
        params=params,
        error=TrainingDivergedError,
    )


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
    nan_X, inf_X = X.copy(), X.copy()
    nan_X[0, 0, 0, 0], inf_X[1, 0, 2, 2] = np.nan, np.inf
    bright = (X * 255).astype(np.int64)
    bright[3, 0, 1, 1] = 300
    return [
        BadInput("NaN", nan_X, "NaN"),
        BadInput("inf", inf_X, "infinity"),
        BadInput("no samples", X[:0], "0 sample"),
        BadInput("5-D array", X[:, None], "5 dimension"),
        BadInput("strings", np.full((60, 64), "a"), "could not convert|string"),
        BadInput("non-square rows", X.reshape(60, -1)[:, :63], "not a square"),
        BadInput("integer pixels above 255", bright, r"\[0, 255\]"),
        BadInput("other image size", X[:, :, :4, :4], "fitted on images", "predict"),
    ]


def _sgs_bad_inputs():
    return [
        *_image_bad_inputs(),
        *_bad_params(
            ("lr", nan),
            ("lr", inf),
            ("k", nan),
            ("momentum", nan),
            ("batch_size", 0),
            ("max_epochs", -1),
        ),
        BadInput("a zero width", None, "widths", params={"widths": (0,)}),
        _diverging("lr", lr=1e6, max_epochs=4),
    ]


def _augment_once(estimator, X, y):
    return estimator.augment(X, y, random_state=0)


def _la3_bad_inputs():
    from sklearn_suite.base import small_cnn_classifier

    X, y = _digit_images()
    lonely = y.copy()
    lonely[0] = "lonely"
    diverging_proxy = small_cnn_classifier(widths=(4,), batch_size=16, lr=1e6)
    return [
        *[bad for bad in _image_bad_inputs() if bad.method == "fit"],
        BadInput("a label with one sample", X, "at least 2 samples", y=lonely),
        BadInput("labels of another length", X, "different lengths", y=y[:-1]),
        *_bad_params(
            ("alpha", nan),
            ("n_jobs", 0),
            ("top_k", 0),
            ("search_size", 1.5),
        ),
        BadInput(
            "a diverging proxy",
            None,
            r"diverged in epoch \d+.*Lower lr",
            params={"proxy": diverging_proxy, "proxy_max_epochs": 4},
            error=_diverging("lr").error,
        ),
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
        BadInput("fewer entity lists", X, "different lengths", y=y[:-1]),
        *_bad_params(
            ("lr", nan),
            ("lr", inf),
            ("weight_decay", nan),
            ("dropout", 2),
            ("batch_size", 0),
            ("encoder", "gru"),
        ),
        _diverging("lr", lr=1e6, max_epochs=6),
        BadInput("a sentence over max_length", ["长" * 61], "max_length=60", "predict"),
    ]


def _gennape():
    from sklearn_suite import GENNAPERegressor

    return GENNAPERegressor(
        n_clusters=2,
        cl_max_epochs=2,
        max_epochs=2,
        batch_size=8,
        width=24,
        n_layers=2,
        random_state=0,
    )


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


def _graph_bad_inputs():
    """Network lists both NAS predictors reject, with and after fitting."""
    import torch

    from sklearn_suite.nas import to_graph

    X, y = _small_networks()
    unknown_op, dangling = to_graph(X[0], (1, 8, 8)), to_graph(X[1], (1, 8, 8))
    unknown_op.x_op = unknown_op.x_op.clone()
    unknown_op.x_op[0] = 10_000
    dangling.edge_index = torch.cat(
        [dangling.edge_index, torch.tensor([[0], [10_000]])], dim=1
    )
    return [
        BadInput("a bare module", X[0], "must be a list"),
        BadInput("an empty list", [], "empty"),
        BadInput("a non-network item", [*X[:-1], "conv3x3"], r"X\[11\] must be"),
        BadInput("NaN target", X, "NaN", y=np.r_[y[:-1], np.nan]),
        BadInput("too few targets", X, "different lengths", y=y[:-1]),
        BadInput("2-D targets", X, "1-D", y=y[:, None]),
        BadInput("an untraceable module", [*X[:-1], _untraceable_module()], "Branchy"),
        BadInput(
            "a graph with an unknown op", [*X[:-1], unknown_op], r"X\[11\] has op ids"
        ),
        BadInput(
            "a graph with a dangling edge",
            [*X[:-1], dangling],
            r"X\[11\] has edges to nodes that do not exist",
        ),
        BadInput(
            "activations over the memory limit",
            None,
            "GiB limit of tracing",
            params={"input_shape": (1, 30_000, 30_000)},
        ),
        BadInput("a non-network item", ["conv"], "must be", "predict"),
    ]


def _gennape_bad_inputs():
    return [
        *_graph_bad_inputs(),
        *_bad_params(
            ("lr", nan),
            ("cl_lr", inf),
            ("fuzzifier", nan),
            ("cl_temperature", 0),
            ("cl_mask_rate", 1.5),
            ("n_clusters", 0),
            ("n_jobs", 0),
        ),
        _diverging("lr", lr=1e6),
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
        *_graph_bad_inputs(),
        *_bad_params(
            ("lr", nan),
            ("finetune_lr", inf),
            ("flops_unit", 0),
            ("n_jobs", 0),
            ("target_transform", "log"),
            ("validation_fraction", 1.0),
        ),
        _diverging("lr", lr=1e6),
        BadInput("negative FLOPs", X, "non-negative", "predict", y=-np.ones(len(X))),
        BadInput("FLOPs of another length", X, "one finite value", "predict", y=[1.0]),
    ]


def _catart():
    from sklearn_suite.recommend import CATARTRecommender

    return CATARTRecommender(
        n_factors=8,
        mf_max_epochs=2,
        cat_max_epochs=2,
        art_max_epochs=2,
        batch_size=128,
        random_state=0,
    )


def _interactions():
    from sklearn_suite.datasets import make_cross_domain_interactions

    return make_cross_domain_interactions(n_users=120, random_state=0).train, None


def _catart_bad_inputs():
    import pandas as pd

    X, _ = _interactions()
    listed = X.assign(item=X.item.astype(object))
    listed.at[5, "item"] = [1, 2]
    return [
        BadInput("a missing column", X.drop(columns="domain"), "missing the columns"),
        BadInput("NaN ids", X.assign(item=X.item.where(X.index > 0)), "contains NaN"),
        BadInput(
            "an empty domain",
            X.assign(domain=pd.Categorical(X.domain, categories=[*range(5), 7])),
            r"domains \[7\] have no interactions",
        ),
        BadInput("an array", X.to_numpy(), "pandas DataFrame"),
        BadInput("one domain", X[X.domain == X.domain.iloc[0]], "at least 2 domains"),
        BadInput("one row", X.head(1), "at least 2 domains"),
        BadInput("list-valued ids", listed, r"X\['item'\] holds unhashable ids"),
        *_bad_params(
            ("lr", nan),
            ("temperature", nan),
            ("dropout", 2),
            ("eval_batch_size", 0),
            ("weight_decay", inf),
        ),
        BadInput(
            "a NaN loss weight",
            None,
            "loss_weights must be 3 finite",
            params={"loss_weights": (nan, 0.4, 0.4)},
        ),
        _diverging("lr", lr=1e6, mf_max_epochs=4, cat_max_epochs=4),
        BadInput("a str of users", "abc", "users must be a sequence", "recommend", y=0),
        BadInput("an unknown domain", [0, 1], "unknown domain", "recommend", y="x"),
    ]


def _recguru():
    from sklearn_suite.recommend import RecGURURecommender

    return RecGURURecommender(
        d_model=8,
        n_blocks=1,
        d_ff=16,
        max_len=8,
        batch_size=32,
        pretrain_steps=2,
        gan_steps=2,
        tune_steps=2,
        random_state=0,
    )


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
        *_bad_params(
            ("lr_rec", nan),
            ("lr_gan", inf),
            ("gp_weight", nan),
            ("dropout", 2),
            ("eval_batch_size", 0),
            ("batch_size", 0),
        ),
        _diverging("lr", lr_rec=1e6),
        _diverging("lr_gan", lr_gan=1e6),
        BadInput("held-out items before the history", late, "non-monotonic", "score"),
        BadInput("a str of users", "abc", "users must be a sequence", "transform", y=0),
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

    # small replay batches, so that the policy-value net trains in the tiny fit
    return R5RuleLearner(
        n_invented=4,
        n_playouts=4,
        max_epochs=1,
        update_every=4,
        batch_size=8,
        random_state=0,
    )


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
            r"X\[0\] has an edge that is not a \(head, relation, tail\) triple",
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
            "an int relation",
            [{**story, "edges": [("a", 5, "b")], "query": ("a", "b")}] + X[1:],
            r"X\[0\] has an edge whose relation is not a name",
        ),
        BadInput(
            "a NaN entity",
            [{**story, "edges": [("a", "son", nan)], "query": ("a", "a")}] + X[1:],
            r"X\[0\] has an edge whose entity is not an id",
        ),
        *_bad_params(
            ("lr", nan),
            ("c_puct", nan),
            ("dirichlet_alpha", 0),
            ("max_paths", 0),
            ("noise_weight", 1.5),
        ),
        _diverging("lr", lr=1e6, max_epochs=3),
        BadInput("fewer labels than stories", X, "labels", "score", y=y[:-5]),
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
        *_bad_params(
            ("base_steps", -1),
            ("num_inference_steps", -5),
            ("num_inference_steps", 0),
            ("lr", nan),
            ("guidance_text", nan),
            ("ema_decay", 1.5),
        ),
        BadInput("a 0 channel", None, "unet_chan", params={"unet_channels": (8, 0)}),
        _diverging("lr", base_lr=1e6, lr=1e6),
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
        ApiCase(_sgs(), _digit_images, _sgs_bad_inputs()),
        ApiCase(
            _la3().set_params(top_k=3),
            _digit_images,
            _la3_bad_inputs(),
            predict=_augment_once,
        ),
    ]
