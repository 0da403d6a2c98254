"""MulcoTagger and its baselines as estimators."""

import copy
import io
from unittest import mock

import joblib
import numpy as np
import pytest
import torch

from sklearn_suite import MulcoTagger
from sklearn_suite.datasets import make_nested_ner, read_chinese_nested_ner
from sklearn_suite.metrics import (
    inner_entity_recall,
    span_f1_score,
    span_precision_recall_f1,
)
from sklearn_suite.ner import FlatBIESTagger, SpanEnumerationTagger, flat_subset

SMALL = dict(hidden=32, emb_dim=32, latent=32, random_state=0)


@pytest.fixture(scope="module")
def data():
    return make_nested_ner(240, random_state=0), make_nested_ner(60, random_state=1)


@pytest.fixture(scope="module")
def mulco(data):
    (X, y), _ = data
    return MulcoTagger(max_epochs=25, **SMALL).fit(X, y)


def test_generator_gives_nested_gold_spans():
    X, y = make_nested_ner(50, random_state=0)
    for text, entities in zip(X, y):
        assert all(0 <= s < e <= len(text) for s, e, _ in entities)
    assert inner_entity_recall(y, y) == 1.0  # nested entities exist
    assert sum(len(e) for e in y) > len(flat_subset_all(y))


def flat_subset_all(y):
    return [span for entities in y for span in flat_subset(entities)]


def test_mulco_learns_and_predicts_nested_pairs(mulco, data):
    _, (Xt, yt) = data
    assert mulco.score(Xt, yt) > 0.3  # an untrained tagger scores 0
    pred = mulco.predict(Xt)
    nested = [
        (a, b)
        for ents in pred
        for a in ents
        for b in ents
        if a != b and a[0] <= b[0] and b[1] <= a[1]
    ]
    assert nested, "Mulco predicted no nested pair"
    assert set(mulco.classes_) == {
        "Event",
        "Location",
        "Organization",
        "Person",
        "Time",
        "Work",
    }
    losses = mulco.history_[:, "train_loss"]
    assert len(losses) == 25 and losses[-1] < losses[0] / 2


def test_flat_baseline_learns_outer_entities_and_never_nests(data):
    (X, y), (Xt, yt) = data
    flat = FlatBIESTagger(max_epochs=25, **SMALL).fit(X, y)
    pred = flat.predict(Xt)
    for ents in pred:
        for a in ents:
            for b in ents:
                assert a == b or a[1] <= b[0] or b[1] <= a[0]
    # it finds the outermost entities it is taught (chance is 0) ...
    outer = [flat_subset(ents) for ents in yt]
    assert span_f1_score(outer, pred) > 0.5
    # ... and no inner one
    assert inner_entity_recall(yt, pred) == 0.0


def test_span_baseline_decodes_nested_spans():
    """Every span is classified on its own, so nested predictions survive
    decoding (a stub module marks (0, 5) as A and (1, 3) inside it as B)."""
    tagger = SpanEnumerationTagger(max_entity_length=6)
    tagger.classes_ = np.array(["A", "B"])

    class Stub(torch.nn.Module):
        def forward(self, ids, lengths, spans):
            logits = torch.zeros(len(spans), 3)
            logits[:, 0] = 1.0
            for row, (_, s, e) in enumerate(spans.tolist()):
                if (s, e) == (0, 4):
                    logits[row, 1] = 5.0
                if (s, e) == (1, 2):
                    logits[row, 2] = 5.0
            return logits

    ids, lengths = torch.ones(1, 6, dtype=torch.long), torch.tensor([6])
    inputs = {"ids": ids, "lengths": lengths}
    assert sorted(tagger._decode(Stub(), inputs)[0]) == [
        (0, 5, "A"),
        (1, 3, "B"),
    ]


def test_scope_ablation_and_transformer_encoder(data):
    (X, y), _ = data
    b_only = MulcoTagger(scopes="B", max_epochs=1, **SMALL).fit(X[:40], y[:40])
    assert set(b_only.module_.heads) == {"Bmin", "Bmax"}
    trans = MulcoTagger(encoder="transformer", max_epochs=1, **SMALL)
    assert len(trans.fit(X[:40], y[:40]).predict(X[:3])) == 3


def test_empty_sentences(data, mulco):
    (X, y), _ = data
    assert mulco.predict(["", X[0]])[0] == []
    assert mulco.predict(["", X[0]])[1] == mulco.predict([X[0]])[0]


def _predict_recording_dtype(tagger, X):
    """``tagger.predict(X)`` and the dtypes its encoder's output took."""
    seen = set()
    hook = tagger.module_.encoder.register_forward_hook(
        lambda module, args, out: seen.add(out.dtype)
    )
    try:
        return tagger.predict(X), seen
    finally:
        hook.remove()


def test_predict_dtype(mulco, data):
    """bfloat16 prediction runs in bfloat16 and agrees with float32 on most
    sentences; "auto" is bfloat16 exactly where the hardware has it."""
    _, (Xt, yt) = data
    tagger = copy.deepcopy(mulco)
    exact, seen = _predict_recording_dtype(
        tagger.set_params(predict_dtype="float32"), Xt
    )
    assert seen == {torch.float32}
    half, seen = _predict_recording_dtype(
        tagger.set_params(predict_dtype="bfloat16"), Xt
    )
    assert seen == {torch.bfloat16}
    assert np.mean([a == b for a, b in zip(exact, half)]) > 0.8
    assert abs(span_f1_score(yt, half) - span_f1_score(yt, exact)) < 0.05
    tagger.set_params(predict_dtype="auto")
    for native, dtype in [(False, torch.float32), (True, torch.bfloat16)]:
        with mock.patch(
            "sklearn_suite.base._checks.native_bfloat16", return_value=native
        ):
            assert _predict_recording_dtype(tagger, Xt[:5])[1] == {dtype}
    with pytest.raises(ValueError, match="'auto', 'float32' or 'bfloat16'"):
        tagger.set_params(predict_dtype="half").predict(Xt[:2])


@pytest.mark.parametrize(
    "cls, params",
    [
        (FlatBIESTagger, {}),
        (SpanEnumerationTagger, {}),
        (MulcoTagger, {"encoder": "transformer"}),
    ],
)
def test_every_tagger_predicts_in_bfloat16(cls, params, data):
    (X, y), (Xt, _) = data
    tagger = cls(max_epochs=1, predict_dtype="bfloat16", **params, **SMALL)
    pred, seen = _predict_recording_dtype(tagger.fit(X[:40], y[:40]), Xt[:8])
    assert seen == {torch.bfloat16} and len(pred) == 8


@pytest.mark.parametrize(
    "X, y, error, match",
    [
        (["abc", 3], [[], []], TypeError, r"X\[1\] must be a str"),
        ("abc", [[]], TypeError, "X must be a list of str"),
        (["abc"], [[(1, 5, "Time")]], ValueError, "0 <= start < end"),
        (["abc"], [[(2, 1, "Time")]], ValueError, "0 <= start < end"),
        (["abc"], [[(0, 1, "")]], ValueError, "non-empty str"),
        (["abc"], [[(0, 1)]], ValueError, r"\(start, end, label\)"),
        (["abc", "d"], [[(0, 1, "Time")]], ValueError, "different lengths"),
        (["a" * 20], [[(0, 1, "Time")]], ValueError, "more than max_length=10"),
    ],
)
def test_bad_input(X, y, error, match):
    with pytest.raises(error, match=match):
        MulcoTagger(max_length=10, max_epochs=1, **SMALL).fit(X, y)


def test_span_metrics():
    true = [[(0, 2, "A"), (0, 4, "B")], [(1, 3, "A")]]
    pred = [[(0, 2, "A"), (0, 4, "A")], []]
    p, r, f = span_precision_recall_f1(true, pred)
    assert (p, r) == (0.5, 1 / 3) and f == pytest.approx(0.4)
    assert span_f1_score(true, true) == 1.0
    assert inner_entity_recall(true, pred) == 1.0  # (0, 2) is inside (0, 4)


def test_read_chinese_nested_ner(tmp_path):
    path = tmp_path / "ner.json"
    path.write_text(
        '{"id": 0, "text": "东京大学", "label": {"Location": {"东京": [[0, 1]]}, '
        '"Organization": {"东京大学": [[0, 3]]}}}\n',
        encoding="utf-8",
    )
    X, y = read_chinese_nested_ner(path)
    assert X == ["东京大学"]
    assert y == [[(0, 2, "Location"), (0, 4, "Organization")]]
    path.write_text('{"id": 0}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 1: not a ChiNesE record"):
        read_chinese_nested_ner(path)


def test_training_goes_through_skorch_with_user_callbacks(data):
    from skorch.callbacks import Callback

    class Count(Callback):
        epochs = 0

        def on_epoch_end(self, net, **kwargs):
            type(self).epochs += 1

    (X, y), _ = data
    model = MulcoTagger(max_epochs=3, callbacks=[Count()], **SMALL).fit(X[:40], y[:40])
    assert Count.epochs == 3 and len(model.history_) == 3
    assert all(p.device == torch.device("cpu") for p in model.module_.parameters())


@pytest.mark.gpu
def test_fit_on_cuda_predicts_on_cpu(data):
    (X, y), (Xt, _) = data
    model = MulcoTagger(
        max_epochs=2, device="cuda", predict_dtype="float32", **SMALL
    ).fit(X, y)
    assert all(p.is_cuda for p in model.module_.parameters())
    expected = model.predict(Xt)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    with mock.patch("torch.cuda.is_available", return_value=False):
        assert joblib.load(buffer).predict(Xt) == expected


def test_length_buckets_cover_every_sentence_once_in_similar_lengths():
    from sklearn_suite.ner._base import LengthBuckets

    rng = np.random.RandomState(0)
    lengths = rng.randint(1, 200, size=1003)
    sampler = LengthBuckets(lengths, batch_size=16, seed=0, pool=10)
    epochs = [list(sampler), list(sampler)]
    for batches in epochs:
        assert len(batches) == len(sampler) == 63
        flat = sorted(i for batch in batches for i in batch)
        assert flat == list(range(1003))  # every sentence once
        assert max(len(b) for b in batches) == 16
        # sorted within pools: a batch spans a sliver of the length range
        spread = np.median([np.ptp(lengths[b]) for b in batches])
        assert spread < 0.1 * np.ptp(lengths)
    assert epochs[0] != epochs[1]  # reshuffled every epoch
    assert list(LengthBuckets(lengths, 16, seed=0, pool=10)) == epochs[0]


def test_one_long_sentence_pads_only_its_own_batch(data):
    """Training batches are padded to their own longest sentence: a 3,000-char
    sentence among short ones widens one batch, not every batch (memory is
    bounded by batch_size x the longest sentences)."""
    from skorch.callbacks import Callback

    class Widths(Callback):
        def initialize(self):
            self.widths = []
            return self

        def on_batch_begin(self, net, batch=None, training=False, **kwargs):
            if training:
                self.widths.append(batch[0]["ids"].shape[1])

    (X, y), _ = data
    X, y = list(X[:63]) + ["北" * 3000], list(y[:63]) + [[(0, 2, y[0][0][2])]]
    widths = Widths()
    MulcoTagger(
        max_epochs=2, batch_size=8, max_length=3000, callbacks=[widths], **SMALL
    ).fit(X, y)
    assert len(widths.widths) == 2 * 8
    assert max(w for w in widths.widths if w < 3000) <= max(map(len, X[:63]))
    assert sum(w >= 3000 for w in widths.widths) == 2  # once per epoch
