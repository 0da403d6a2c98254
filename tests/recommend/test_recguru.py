import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from sklearn_suite.datasets import make_cross_domain_sequences
from sklearn_suite.recommend import (
    RecGURURecommender,
    SASRecRecommender,
    sample_candidates,
    sampled_ranking_metrics,
)
from sklearn_suite.recommend._transformer import SequenceAutoencoder, attention_mask

SMALL = dict(
    d_model=8, n_blocks=1, d_ff=16, max_len=8, batch_size=32, pretrain_steps=3,
    gan_steps=3, tune_steps=3, eval_every=1, random_state=0,
)  # fmt: skip


@pytest.fixture(scope="module")
def data():
    return make_cross_domain_sequences(n_users=(60, 50), overlap=0.4, random_state=0)


@pytest.fixture(scope="module")
def fitted(data):
    return RecGURURecommender(**SMALL).fit(data.train, X_valid=data.valid)


def _rows(frame, model, domain, max_len):
    """Encoder input (most recent items + EOS) of every user of ``frame``, keyed by
    the tuple of item codes without the padding (see :func:`_unpadded`)."""
    d = model.domains_.index(domain)
    eos = model.model_.eos(d)
    out = {}
    for user, items in frame[frame.domain == domain].groupby("user").item:
        codes = model.items_[domain].get_indexer(items.to_numpy()) + 1
        codes = codes[codes > 0]  # items unknown at fit never join a history
        out[(*codes[-(max_len - 1) :], eos)] = user
    return out


def _unpadded(batch):
    """Rows of a recorded encoder input without their left padding."""
    return [tuple(int(c) for c in row if c) for row in batch]


class EncoderInputs:
    """Record every (sequence, domain) the shared encoder reads."""

    def __init__(self, monkeypatch):
        self.calls = []
        encode = SequenceAutoencoder.encode

        def recording(module, seq, d):
            self.calls.append((seq.detach().cpu().numpy().copy(), d))
            return encode(module, seq, d)

        monkeypatch.setattr(SequenceAutoencoder, "encode", recording)


def test_one_encoder_serves_both_domains(fitted, data):
    model = fitted.model_
    encoders = [
        m for m in model.modules() if isinstance(m, torch.nn.TransformerEncoder)
    ]
    assert len(encoders) == 1
    users = fitted.overlap_users_[:5]
    before = [fitted.transform(users, d) for d in (0, 1)]
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.add_(0.5)
    after = [fitted.transform(users, d) for d in (0, 1)]
    for b, a in zip(before, after):
        assert not np.allclose(a, b)
    # per-domain item tables and decoders
    assert len(model.embeddings) == len(model.decoders) == len(model.recommenders) == 2
    assert (
        model.embeddings[0].items.num_embeddings
        != model.embeddings[1].items.num_embeddings
    )


def test_gur_is_the_encoder_output_at_the_end_of_sequence(fitted):
    model = fitted.model_.eval()
    seq = fitted._store.padded(1, np.arange(4), fitted.max_len, model.eos(1))
    with torch.no_grad():
        hidden = model.encoder(
            model.embeddings[1](seq),
            mask=attention_mask(seq, 1, causal=False),
        )
        np.testing.assert_allclose(model.encode(seq, 1), hidden[:, -1], atol=1e-6)


def test_batches_pad_to_their_longest_row_without_changing_outputs(fitted):
    model = fitted.model_.eval()
    lengths = fitted._store.lengths(1, range(len(fitted.users_)))
    users = np.flatnonzero(lengths)[np.argsort(lengths[lengths > 0])[:4]]
    seq = fitted._store.padded(1, users, fitted.max_len, model.eos(1))
    assert seq.shape[1] == lengths[users].max() + 1 < fitted.max_len
    assert (seq[:, 0] != 0).any()  # no column of padding only
    full = torch.nn.functional.pad(seq, (fitted.max_len - seq.shape[1], 0))
    with torch.no_grad():
        torch.testing.assert_close(model.encode(seq, 1), model.encode(full, 1))
        torch.testing.assert_close(
            model.next_item_states(seq, seq[:, :-1], 1)[:, -1],
            model.next_item_states(full, full[:, :-1], 1)[:, -1],
        )


def test_held_out_items_never_enter_the_encoder(data, monkeypatch):
    rec = EncoderInputs(monkeypatch)
    model = RecGURURecommender(**SMALL).fit(data.train, X_valid=data.valid)
    for domain in (0, 1):
        allowed = _rows(data.train, model, domain, SMALL["max_len"])
        rows = [r for seq, d in rec.calls if d == domain for r in _unpadded(seq)]
        assert rows and set(rows) <= set(allowed)  # training sequences only
    rec.calls.clear()
    model.score(data.test)
    history = pd.concat([data.train, data.valid])
    for domain in (0, 1):
        allowed = _rows(history, model, domain, SMALL["max_len"])
        rows = {r for seq, d in rec.calls if d == domain for r in _unpadded(seq)}
        assert rows and rows <= set(allowed)  # training + validation, no test item
        test = data.test[data.test.domain == domain].set_index("user").item
        for row in rows:
            code = model.items_[domain].get_indexer([test[allowed[row]]])[0] + 1
            assert code == 0 or code not in row


def test_discriminator_trains_on_detached_gurs_and_generator_plays_against_it(
    data, monkeypatch
):
    calls = []
    model = RecGURURecommender(**{**SMALL, "critic_steps": 4, "gan_steps": 2})
    from sklearn_suite.recommend import _recguru

    class Recording(_recguru.DomainDiscriminator):
        def forward(self, z):
            trainable = next(self.parameters()).requires_grad
            calls.append((trainable, z.grad_fn is None, torch.is_grad_enabled()))
            return super().forward(z)

    monkeypatch.setattr(_recguru, "DomainDiscriminator", Recording)
    model.fit(data.train)
    critic = [c for c in calls if c[0] and c[2]]
    generator = [c for c in calls if not c[0]]
    # real + fake + gradient-penalty interpolation per critic step
    assert len(critic) == 2 * 4 * 3
    assert all(detached for _, detached, _ in critic)
    assert len(generator) == 2 * 2 and not any(detached for _, detached, _ in generator)


def test_generator_loss_flips_the_labels():
    model = RecGURURecommender(**SMALL).fit(
        make_cross_domain_sequences(n_users=(30, 20), random_state=1).train
    )
    confident = torch.tensor([8.0, 8.0]), torch.tensor([-8.0, -8.0])
    critic = model._critic_bce(*confident)
    generator = model._generator_adversarial_loss(*confident)
    assert critic < 0.01 < 10 < generator  # the players want opposite things


def test_adversarial_term_changes_only_the_generator_objective(data):
    common = {**SMALL, "pretrain_steps": 0, "tune_steps": 0}
    a = RecGURURecommender(**common, adversarial=True).fit(data.train)
    b = RecGURURecommender(**common, adversarial=False).fit(data.train)
    users = a.users_[:10]
    assert not np.allclose(a.transform(users, 0), b.transform(users, 0), equal_nan=True)
    accuracy = a.history_["gan"][:, "d_accuracy"]
    assert len(accuracy) == SMALL["gan_steps"]
    assert all(0 <= acc <= 1 for acc in accuracy)


def test_zero_overlap_and_the_overlap_term(monkeypatch):
    zero = make_cross_domain_sequences(n_users=(40, 30), overlap=0.0, random_state=2)
    model = RecGURURecommender(**SMALL).fit(zero.train)
    assert len(model.overlap_users_) == 0
    assert np.isfinite(model.score(zero.test))
    half = make_cross_domain_sequences(n_users=(40, 30), overlap=0.5, random_state=2)
    model = RecGURURecommender(**SMALL).fit(half.train)
    assert set(model.overlap_users_) == set(half.overlap_users)
    pairs = []
    mse = torch.nn.functional.mse_loss

    def recording(a, b, *args, **kwargs):
        pairs.append(a.shape)
        return mse(a, b, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "mse_loss", recording)
    clone(model).fit(half.train)
    assert len(pairs) == SMALL["gan_steps"]
    pairs.clear()
    clone(model).set_params(overlap_weight=0).fit(half.train)
    assert pairs == []


def test_recommendation_decoder_is_causal(fitted):
    model = fitted.model_.eval()
    seq = fitted._store.padded(0, np.arange(3), fitted.max_len, model.eos(0))
    history = seq[:, :-1].clone()
    with torch.no_grad():
        base = model.next_item_states(seq, history, 0)
        changed = history.clone()
        changed[:, -1] = 1 + (changed[:, -1] % 5)
        after = model.next_item_states(seq, changed, 0)
    torch.testing.assert_close(base[:, :-1], after[:, :-1])
    assert not torch.allclose(base[:, -1], after[:, -1])


def test_recommend_predict_transform_and_cold_users(fitted, data):
    users = data.test[data.test.domain == 1].user.to_numpy()[:4]
    recs = fitted.recommend(users, domain=1, k=5)
    assert recs.groupby("user").size().tolist() == [5] * 4
    history = pd.concat([data.train, data.valid])
    for user, rows in recs.groupby("user"):
        seen = set(history[(history.user == user) & (history.domain == 1)].item)
        assert not seen & set(rows.item)
        scores = fitted.predict(rows.assign(domain=1)[["user", "item", "domain"]])
        np.testing.assert_allclose(scores, rows.score, rtol=1e-5)
    in_a = fitted._has_vector(np.arange(len(fitted.users_)), 0)
    only_a = np.setdiff1d(fitted.users_[in_a], fitted.overlap_users_)[:2]
    assert np.isnan(fitted.transform(only_a, 1)).all()
    assert np.isfinite(fitted.transform(only_a, 0)).all()
    with pytest.warns(UserWarning, match="cold users"):
        cold = fitted.recommend(["nobody"], domain=1, k=3)
    assert cold.score.isna().all() and len(cold) == 3


def test_score_is_seeded_hr_at_10(fitted, data):
    first = fitted.score(data.test)
    assert first == fitted.score(data.test)
    per_domain = sampled_ranking_metrics(
        fitted, data.test, fitted.known_interactions(), k=10, random_state=0
    )
    assert first == pytest.approx(np.mean([m["hr"] for m in per_domain.values()]))


def test_candidates_exclude_the_users_items(data):
    history = pd.concat([data.train, data.valid])
    for sampling in ("uniform", "popularity"):
        cand = sample_candidates(data.test, history, 199, sampling, random_state=0)
        assert cand.shape == (len(data.test), 200)
        np.testing.assert_array_equal(cand[:, 0], data.test.item)
        mine = (
            pd.concat([history, data.test]).groupby(["user", "domain"]).item.apply(set)
        )
        for row, (user, domain) in enumerate(zip(data.test.user, data.test.domain)):
            assert not set(cand[row, 1:]) & mine[(user, domain)]
        again = sample_candidates(data.test, history, 199, sampling, random_state=0)
        np.testing.assert_array_equal(cand, again)


def test_popularity_negatives_follow_counts(data):
    history = pd.concat([data.train, data.valid])
    history = history[history.domain == 0]
    test = data.test[data.test.domain == 0]
    cand = sample_candidates(test, history, 199, "popularity", random_state=0)
    drawn = pd.Series(cand[:, 1:].ravel()).value_counts()
    counts = history.item.value_counts()
    top, bottom = counts.index[:20], counts.index[-100:]
    assert (
        drawn.reindex(top).fillna(0).mean() > 3 * drawn.reindex(bottom).fillna(0).mean()
    )


def test_single_domain_fit_has_no_discriminator(data):
    sparse = data.train[data.train.domain == 1]
    model = RecGURURecommender(**SMALL).fit(sparse)
    assert model.discriminator_ is None and model.domains_ == [1]
    assert all("d_accuracy" not in step for step in model.history_["gan"])


def test_sasrec_baseline_is_causal_and_seeded(data):
    params = {k: SMALL[k] for k in ("d_model", "n_blocks", "d_ff", "max_len")}
    a = SASRecRecommender(**params, n_steps=3, random_state=0).fit(data.train)
    b = SASRecRecommender(**params, n_steps=3, random_state=0).fit(data.train)
    np.testing.assert_array_equal(a.predict(data.test), b.predict(data.test))
    net = a.models_[0].eval()
    seq = a._store.padded(0, np.arange(3), 6)
    changed = seq.clone()
    changed[:, -1] = 1 + (changed[:, -1] % 5)
    with torch.no_grad():
        torch.testing.assert_close(net(seq)[:, :-1], net(changed)[:, :-1])


@pytest.mark.gpu
def test_fit_on_cuda_serves_on_cpu(data):
    model = RecGURURecommender(**{**SMALL, "device": "cuda"})
    model.fit(data.train, X_valid=data.valid)
    assert next(model.model_.parameters()).device.type == "cpu"
    assert np.isfinite(model.score(data.test))
