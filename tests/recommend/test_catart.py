import copy
import io
from unittest import mock

import joblib
import numpy as np
import pandas as pd
import pytest
import torch

from sklearn_suite.datasets import make_cross_domain_interactions
from sklearn_suite.metrics import ndcg_at_k, precision_at_k, recall_at_k
from sklearn_suite.recommend import CATARTRecommender, per_domain_metrics
from sklearn_suite.recommend._modules import AttentiveTransfer, ContrastiveAutoencoder

SMALL = dict(
    n_factors=8, mf_max_epochs=3, cat_max_epochs=3, art_max_epochs=2, batch_size=256
)


@pytest.fixture(scope="module")
def data():
    return make_cross_domain_interactions(n_users=300, random_state=0)


@pytest.fixture(scope="module")
def fitted(data):
    return CATARTRecommender(**SMALL, random_state=0).fit(
        data.train, X_valid=data.valid
    )


def test_generator_domains_density_relatedness_and_split(data):
    counts = data.train.groupby("domain").size().to_numpy()
    assert (np.diff(counts) < 0).all()  # dense -> sparse
    g = data.global_factors
    for d, rho in enumerate(data.relatedness):
        # share of a domain's preference explained by the global factor
        coef, *_ = np.linalg.lstsq(g, data.domain_factors[d], rcond=None)
        r2 = (
            1 - (data.domain_factors[d] - g @ coef).var() / data.domain_factors[d].var()
        )
        assert abs(r2 - rho) < 0.1, (d, r2, rho)
    keys = [set(map(tuple, f.to_numpy())) for f in (data.train, data.valid, data.test)]
    assert not (keys[0] & keys[1] or keys[0] & keys[2] or keys[1] & keys[2])
    per_user = data.test.groupby(["domain", "user"]).size()
    assert per_user.min() >= 1


def test_ranking_metrics_on_a_hand_made_case():
    relevant = [{1, 2}, {3}, set()]  # the user without relevant items is ignored
    recommended = [[1, 9, 2], [4, 5, 3], [7, 8, 9]]
    assert recall_at_k(relevant, recommended, 2) == pytest.approx((0.5 + 0) / 2)
    assert precision_at_k(relevant, recommended, 3) == pytest.approx(
        (2 / 3 + 1 / 3) / 2
    )
    ideal_2 = 1 + 1 / np.log2(3)
    first = (1 + 1 / np.log2(4)) / ideal_2
    assert ndcg_at_k(relevant, recommended, 3) == pytest.approx((first + 0.5) / 2)


def test_cat_masks_one_present_domain_with_the_learnable_mask():
    cat = ContrastiveAutoencoder(n_domains=3, dim=4)
    emb = torch.randn(2, 3, 4)
    present = torch.tensor([[True, True, False], [True, True, True]])
    view = cat.view(emb, present, masked=torch.tensor([1, 2])).view(2, 3, 4)
    torch.testing.assert_close(view[0, 0], emb[0, 0])
    torch.testing.assert_close(view[0, 1], cat.mask.detach())
    torch.testing.assert_close(view[0, 2], cat.pad.detach())  # absent domain
    torch.testing.assert_close(view[1, 2], cat.mask.detach())
    torch.testing.assert_close(view[1, :2], emb[1, :2])
    assert cat.mask.requires_grad and cat.pad.requires_grad


def test_cat_loss_weights_and_reconstruction_targets():
    torch.manual_seed(0)
    cat = ContrastiveAutoencoder(n_domains=3, dim=4)
    emb, present = torch.randn(6, 3, 4), torch.ones(6, 3, dtype=torch.bool)
    masked = torch.tensor([0, 1, 2, 0, 1, 2])
    l_cl, rec1, rec2 = cat.losses(emb, present, masked, 0.1)
    total = cat.loss(emb, present, masked, 0.1, (0.2, 0.4, 0.4))
    torch.testing.assert_close(total, 0.2 * l_cl + 0.4 * rec1 + 0.4 * rec2)
    # both reconstructions target the unmasked input
    z_mask = cat.encoder(cat.view(emb, present, masked))
    torch.testing.assert_close(
        rec2, ((cat.decoder(z_mask) - emb.flatten(1)) ** 2).mean()
    )


def test_art_attends_from_the_target_embedding_and_ignores_absent_sources():
    torch.manual_seed(0)
    art = AttentiveTransfer(3, target=0, dim=4, item_init=torch.randn(5, 4),
                            knowledge="both", dropout=0.0).eval()  # fmt: skip
    emb = torch.randn(2, 3, 4)
    present = torch.tensor([[True, True, False], [True, False, False]])
    out = art.transfer(emb, present)
    changed = emb.clone()
    changed[0, 2] = 100.0  # an absent source cannot matter
    torch.testing.assert_close(art.transfer(changed, present), out)
    torch.testing.assert_close(out[1], torch.zeros(4))  # no source at all
    both = art.user_vectors(emb, present, torch.randn(2, 4))
    assert both.shape == (2, 4) and torch.isfinite(both).all()


def test_cat_is_frozen_inside_art(data):
    short = CATARTRecommender(**{**SMALL, "art_max_epochs": 1}, random_state=0)
    longer = CATARTRecommender(**{**SMALL, "art_max_epochs": 3}, random_state=0)
    short.fit(data.train, X_valid=data.valid)
    longer.fit(data.train, X_valid=data.valid)
    for a, b in zip(
        short.cat_.state_dict().values(), longer.cat_.state_dict().values()
    ):
        assert torch.equal(a, b)
    assert not any(p.requires_grad for p in longer.cat_.parameters())
    with torch.no_grad():
        again = longer.cat_.encode(longer._emb, longer._present)
    torch.testing.assert_close(torch.as_tensor(longer.transform(longer.users_)), again)


def test_seen_items_are_never_recommended(data, fitted):
    for domain in fitted.domains_:
        users = data.train.loc[data.train.domain == domain, "user"].unique()[:50]
        recs = fitted.recommend(users, domain, k=10)
        seen = set(map(tuple, data.train.loc[data.train.domain == domain,
                                             ["user", "item"]].to_numpy()))  # fmt: skip
        assert not seen & set(map(tuple, recs[["user", "item"]].to_numpy()))
        assert (
            recs.groupby("user")["rank"].apply(list).map(lambda r: r == sorted(r)).all()
        )


def test_recommend_scores_match_predict(data, fitted):
    recs = fitted.recommend([0, 1, 2], 1, k=5)
    rows = recs.assign(domain=1)[["user", "item", "domain"]]
    np.testing.assert_allclose(fitted.predict(rows), recs["score"], rtol=1e-5)


def test_unknown_users_get_popular_items_and_nan(data, fitted):
    with pytest.warns(UserWarning, match="cold users"):
        recs = fitted.recommend(["stranger"], 0, k=3)
    assert len(recs) == 3 and recs["score"].isna().all()
    assert np.isnan(fitted.transform(["stranger"])).all()
    X = pd.DataFrame({"user": ["stranger"], "item": [0], "domain": [0]})
    assert np.isnan(fitted.predict(X)).all()


def test_score_is_mean_ndcg_over_domains(data, fitted):
    score = fitted.score(data.test)
    per_domain = []
    for domain, rows in data.test.groupby("domain"):
        truth = rows.groupby("user")["item"].apply(set)
        ranked = (
            fitted.recommend(truth.index, domain, k=10)
            .pivot(index="user", columns="rank", values="item")
            .reindex(truth.index)
        )
        per_domain.append(ndcg_at_k(list(truth), ranked.to_numpy(), 10))
    assert score == pytest.approx(np.mean(per_domain))


def _with_empty_domain(X):
    return X.assign(domain=pd.Categorical(X.domain, categories=[0, 1, 2, 3, 4, 9]))


@pytest.mark.parametrize(
    "make_bad, match",
    [
        (lambda X: X.drop(columns="item"), r"missing the columns \['item'\]"),
        (lambda X: X.assign(user=X.user.where(X.index > 0)), "contains NaN"),
        (_with_empty_domain, r"domains \[9\] have no interactions"),
        (lambda X: X.to_numpy(), "must be a pandas DataFrame"),
    ],
)
def test_bad_input_is_rejected_clearly(data, make_bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        CATARTRecommender(**SMALL).fit(make_bad(data.train))


def test_unknown_domain_is_rejected(fitted):
    with pytest.raises(ValueError, match="unknown domain 'books'"):
        fitted.recommend([0], "books")
    rows = pd.DataFrame({"user": [0, 0], "item": [1, 1], "domain": [0, "books"]})
    with pytest.raises(ValueError, match="unknown domain 'books'"):
        fitted.predict(rows)


def test_popularity_baseline_excludes_seen_and_ranks_by_count(data):
    from sklearn_suite.recommend import PopularityRecommender

    pop = PopularityRecommender().fit(data.train)
    counts = data.train[data.train.domain == 3]["item"].value_counts()
    user = data.train.loc[data.train.domain == 3, "user"].iloc[0]
    recs = pop.recommend([user], 3, k=5)
    seen = set(data.train.query("domain == 3 and user == @user")["item"])
    assert not seen & set(recs["item"])
    assert list(recs["score"]) == sorted(recs["score"], reverse=True)
    assert recs["score"].iloc[0] == counts[~counts.index.isin(seen)].iloc[0]
    assert 0 < pop.score(data.test) < 1


@pytest.mark.gpu
def test_fit_on_cuda_serves_on_cpu(data):
    model = CATARTRecommender(**SMALL, device="cuda", random_state=0)
    model.fit(data.train, X_valid=data.valid)
    expected = model.predict(data.test)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    with mock.patch("torch.cuda.is_available", return_value=False):
        loaded = joblib.load(buffer)
        np.testing.assert_allclose(loaded.predict(data.test), expected, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_hold_out_keeps_every_item_and_domain(data, seed):
    """Without X_valid, about 10% of each user's interactions are held out, but
    every user, item and domain of X is known after fit (a domain with one
    interaction and items seen once included) and predict(X) is finite."""
    X = data.train
    rare = pd.DataFrame({"user": [X.user.iloc[0]], "item": [10_000], "domain": [7]})
    X = pd.concat([X, rare], ignore_index=True)
    est = CATARTRecommender(**SMALL, random_state=seed).fit(X)
    assert set(est.domains_) == set(X.domain)
    for domain, items in X.groupby("domain").item:
        assert set(items) <= set(est.items_[domain])
    assert set(X.user) <= set(est.users_)
    assert np.isfinite(est.predict(X)).all()


def test_bpr_and_sampled_softmax_losses_agree_with_their_formulas():
    from sklearn_suite.recommend._training import BPRLoss, SampledSoftmaxLoss

    pos = torch.tensor([2.0, -1.0])
    neg = torch.tensor([[1.0, 3.0, 0.0], [-2.0, -1.0, 0.5]])
    p, n = pos.numpy(), neg.numpy()
    bpr = np.mean(np.log1p(np.exp(n - p[:, None])))
    assert BPRLoss()((pos, neg)).item() == pytest.approx(bpr, rel=1e-6)
    assert BPRLoss()((pos, neg[:, 0])).item() == pytest.approx(
        np.mean(np.log1p(np.exp(n[:, 0] - p))), rel=1e-6
    )
    logits = torch.cat([pos[:, None], neg], 1).numpy()
    softmax = np.mean(np.log(np.exp(logits).sum(1)) - logits[:, 0])
    assert SampledSoftmaxLoss()((pos, neg)).item() == pytest.approx(softmax, rel=1e-6)
    penalty = torch.tensor(0.25)
    assert SampledSoftmaxLoss()((pos, neg, penalty)).item() == pytest.approx(
        softmax + 0.25, rel=1e-6
    )


def test_item_bias_and_several_negatives_keep_ranking_and_scoring_consistent(data):
    model = CATARTRecommender(
        **SMALL, loss="softmax", n_negatives=4, item_bias=True, random_state=0
    ).fit(data.train, X_valid=data.valid)
    bias = model.art_[1].scores.bias.weight
    assert bias.shape == (len(model.items_[1]), 1) and bias.abs().sum() > 0
    recs = model.recommend([0, 1, 2], 1, k=5)
    rows = recs.assign(domain=1)[["user", "item", "domain"]]
    np.testing.assert_allclose(model.predict(rows), recs["score"], rtol=1e-5)


def test_ndcg_monitor_records_the_validation_ranking_of_each_stage(data):
    from sklearn_suite.recommend._training import MFStage, RankingValidation

    model = CATARTRecommender(**SMALL, monitor="ndcg", random_state=0)
    model.fit(data.train, X_valid=data.valid)
    for stage in ("mf", "art"):
        for history in model.history_[stage].values():
            curve = history[:, "valid_ndcg"]
            assert len(curve) == len(history) and all(0 <= v <= 1 for v in curve)
    # the monitor's NDCG is the full-ranking NDCG of the validation items
    d = 2
    train, valid = model._split_domain(model._codes, model._valid_codes, d)
    ranking = RankingValidation(MFStage(model.mf_[d], 0.0), train, valid)
    with_known = data.valid[data.valid.domain == d]
    with_known = with_known[with_known.item.isin(model.items_[d])]
    only_mf = copy.deepcopy(model).set_params(knowledge="none")
    only_mf.art_[d] = only_mf._transfer_module(d)
    expected = per_domain_metrics(only_mf, with_known)[d]["ndcg"]
    assert ranking() == pytest.approx(expected, abs=1e-9)
