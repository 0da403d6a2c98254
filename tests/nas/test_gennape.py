import numpy as np
import pytest
import torch
from sklearn.model_selection import cross_val_score

from sklearn_suite import GENNAPERegressor
from sklearn_suite.datasets import build_network
from sklearn_suite.datasets._nas_families import sample_specs
from sklearn_suite.metrics import spearman_scorer
from sklearn_suite.nas import to_graph
from sklearn_suite.nas._fcm import fcm_memberships, fuzzy_cmeans
from sklearn_suite.nas._training import augment_view, nt_xent

SMALL = dict(
    cl_max_epochs=3,
    max_epochs=3,
    batch_size=8,
    width=24,
    n_layers=2,
    finetune_max_epochs=2,
    random_state=0,
)


@pytest.fixture(scope="module")
def nas_data():
    specs = [
        s
        for fam in ("cell201", "resnet", "inception")
        for s in sample_specs(fam, 8, random_state=0)
    ]
    graphs = [to_graph(build_network(s), (1, 16, 16)) for s in specs]
    rng = np.random.default_rng(0)
    y = np.array([g.num_nodes for g in graphs], float) + rng.normal(0, 2, len(graphs))
    return graphs, y


def test_predict_transform_and_memberships(nas_data):
    graphs, y = nas_data
    model = GENNAPERegressor(n_clusters=3, **SMALL).fit(graphs, y)
    assert model.predict(graphs).shape == (24,)
    assert model.transform(graphs).shape == (24, 24)
    u = model.predict_membership(graphs)
    assert u.shape == (24, 3) and np.allclose(u.sum(1), 1) and (u > 0).all()
    assert model.cluster_centers_.shape == (3, 24)
    hard = GENNAPERegressor(n_clusters=3, membership="hard", **SMALL).fit(graphs, y)
    u = hard.predict_membership(graphs)
    assert set(np.unique(u)) <= {0.0, 1.0} and np.allclose(u.sum(1), 1)


def test_modules_and_graphs_give_the_same_predictions(nas_data):
    graphs, y = nas_data
    specs = sample_specs("resnet", 4, random_state=1)
    modules = [build_network(s) for s in specs]
    model = GENNAPERegressor(n_clusters=2, **SMALL).fit(graphs, y)
    as_graphs = [to_graph(m, model.input_shape) for m in modules]
    np.testing.assert_allclose(model.predict(modules), model.predict(as_graphs))


def test_contrastive_encoder_is_frozen_while_heads_train(nas_data):
    graphs, y = nas_data
    params = {**SMALL, "validation_fraction": 0.0}
    short = GENNAPERegressor(n_clusters=2, **{**params, "max_epochs": 1}).fit(graphs, y)
    long = GENNAPERegressor(n_clusters=2, **{**params, "max_epochs": 6}).fit(graphs, y)
    # same contrastive stage -> same embeddings and clusters; heads differ
    np.testing.assert_array_equal(short.transform(graphs), long.transform(graphs))
    np.testing.assert_array_equal(short.cluster_centers_, long.cluster_centers_)
    assert not np.allclose(short.predict(graphs), long.predict(graphs))
    assert short.encoder_frozen_ and len(short.history_["contrastive"]) == 3


def test_contrastive_stage_trains_the_encoder_and_sees_unlabeled(nas_data):
    graphs, y = nas_data
    no_cl = GENNAPERegressor(
        n_clusters=1, **{**SMALL, "cl_max_epochs": 0, "max_epochs": 1}
    )
    untrained = (
        no_cl.set_params(max_epochs=1, lr=1e-12).fit(graphs, y).transform(graphs)
    )
    cl = GENNAPERegressor(n_clusters=1, **SMALL).fit(graphs[:12], y[:12])
    transductive = GENNAPERegressor(n_clusters=1, **SMALL).fit(
        graphs[:12], y[:12], X_unlabeled=graphs[12:]
    )
    assert not np.allclose(untrained, cl.transform(graphs))
    assert not np.allclose(cl.transform(graphs), transductive.transform(graphs))


def test_plain_kgnn_trains_the_encoder_jointly(nas_data):
    graphs, y = nas_data
    params = {**SMALL, "cl_max_epochs": 0, "n_clusters": 1, "validation_fraction": 0.0}
    a = GENNAPERegressor(**{**params, "max_epochs": 1}).fit(graphs, y)
    b = GENNAPERegressor(**{**params, "max_epochs": 4}).fit(graphs, y)
    assert not a.encoder_frozen_ and "contrastive" not in a.history_
    assert not np.allclose(a.transform(graphs), b.transform(graphs))
    with pytest.raises(ValueError, match="cl_max_epochs > 0"):
        GENNAPERegressor(**{**params, "n_clusters": 3}).fit(graphs, y)


def test_fine_tune_returns_a_new_model_and_leaves_the_original(nas_data):
    graphs, y = nas_data
    model = GENNAPERegressor(n_clusters=2, **SMALL).fit(graphs[:16], y[:16])
    before = model.predict(graphs[16:])
    state = {k: v.clone() for k, v in model.module_.state_dict().items()}
    tuned = model.fine_tune(graphs[16:], y[16:] + 50)
    assert tuned is not model
    np.testing.assert_array_equal(model.predict(graphs[16:]), before)
    for k, v in model.module_.state_dict().items():
        torch.testing.assert_close(v, state[k])
    assert np.abs(tuned.predict(graphs[16:]) - before).max() > 1e-4
    # the frozen encoder stays frozen unless asked
    np.testing.assert_array_equal(tuned.transform(graphs), model.transform(graphs))
    unfrozen = model.fine_tune(graphs[16:], y[16:], train_encoder=True)
    assert not np.allclose(unfrozen.transform(graphs), model.transform(graphs))


def test_spearman_scorer_in_cross_validation(nas_data):
    graphs, y = nas_data
    scores = cross_val_score(
        GENNAPERegressor(n_clusters=1, **SMALL),
        graphs,
        y,
        cv=2,
        scoring=spearman_scorer,
    )
    assert scores.shape == (2,) and np.all(np.abs(scores) <= 1)


def test_nt_xent_prefers_matching_views():
    torch.manual_seed(0)
    z = torch.randn(6, 8)
    matched = nt_xent(z, z + 0.01 * torch.randn(6, 8), 0.1)
    shuffled = nt_xent(z, z[torch.randperm(6)], 0.1)
    assert matched < shuffled
    # the formula: cross-entropy of each row against its partner, diagonal excluded
    zn = torch.nn.functional.normalize(torch.cat([z, z]), dim=1)
    sim = zn @ zn.t() / 0.1
    sim.fill_diagonal_(-torch.inf)
    i = 0
    expected_row0 = -(sim[i, 6] - torch.logsumexp(sim[i], 0))
    per_row = torch.nn.functional.cross_entropy(
        sim, torch.tensor([6, 7, 8, 9, 10, 11, 0, 1, 2, 3, 4, 5]), reduction="none"
    )
    torch.testing.assert_close(per_row[0], expected_row0)
    torch.testing.assert_close(nt_xent(z, z, 0.1), per_row.mean())


def test_augmented_view_keeps_every_node_connected(nas_data):
    from torch_geometric.data import Batch

    graphs, _ = nas_data
    batch = Batch.from_data_list(graphs)
    torch.manual_seed(0)
    view = augment_view(batch, mask_rate=0.15, edge_drop=0.5)
    has_parent = set(batch.edge_index[1].tolist())
    assert set(view.edge_index[1].tolist()) == has_parent
    assert view.edge_index.shape[1] < batch.edge_index.shape[1]
    masked = (view.x_op == 0) & (batch.x_op != 0)
    assert 0.08 < masked.float().mean() < 0.22
    assert torch.equal(batch.x_op, Batch.from_data_list(graphs).x_op)  # input intact


def test_fuzzy_cmeans_recovers_separated_clusters():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    Z = np.concatenate([c + rng.normal(0, 0.3, (30, 2)) for c in centres])
    fitted, u = fuzzy_cmeans(Z, 3, m=2.0, random_state=0)
    assert np.allclose(u.sum(1), 1)
    dist = np.linalg.norm(fitted[:, None] - centres[None], axis=2)
    assert dist.min(axis=1).max() < 0.3
    # a point on a centre belongs to it only; far points split by distance ratio
    u_centre = fcm_memberships(fitted[:1], fitted)
    np.testing.assert_allclose(u_centre, np.eye(3)[:1])
    z = np.array([[1.0, 0.0]])
    two = np.array([[0.0, 0.0], [3.0, 0.0]])
    # m = 2: u_1 = 1 / (1 + (1/2)^2) = 0.8
    np.testing.assert_allclose(fcm_memberships(z, two), [[0.8, 0.2]])
    with pytest.raises(ValueError, match="fuzzifier"):
        fuzzy_cmeans(Z, 3, m=1.0)


def test_fitted_weights_live_on_cpu_for_portable_pickles(nas_data):
    graphs, y = nas_data
    model = GENNAPERegressor(n_clusters=2, **SMALL).fit(graphs, y)
    assert all(p.device.type == "cpu" for p in model.module_.parameters())


@pytest.mark.gpu
def test_fit_and_predict_on_cuda_match_cpu_api(nas_data):
    graphs, y = nas_data
    model = GENNAPERegressor(n_clusters=2, device="cuda", **SMALL).fit(graphs, y)
    pred = model.predict(graphs)
    assert pred.shape == (24,) and np.isfinite(pred).all()
    cpu = model.set_params(device="cpu").predict(graphs)
    np.testing.assert_allclose(cpu, pred, rtol=1e-4, atol=1e-4)


def test_pairwise_and_listwise_losses_match_their_formulas():
    from sklearn_suite.nas._training import (
        RegressionLoss,
        listwise_rank_loss,
        pairwise_rank_loss,
    )

    p = torch.tensor([0.5, -1.0, 2.0])
    y = torch.tensor([1.0, 0.0, 0.0])  # item 0 beats items 1 and 2; 1 and 2 tie
    expected = (np.log1p(np.exp(-(0.5 + 1.0))) + np.log1p(np.exp(-(0.5 - 2.0)))) / 2
    assert float(pairwise_rank_loss(p, y)) == pytest.approx(expected, rel=1e-6)
    assert float(pairwise_rank_loss(p, torch.zeros(3))) == 0.0  # no ordered pair
    q = np.exp(y.numpy()) / np.exp(y.numpy()).sum()
    log_s = p.numpy() - np.log(np.exp(p.numpy()).sum())
    assert float(listwise_rank_loss(p, y)) == pytest.approx(
        -(q * log_s).sum(), rel=1e-6
    )
    mse = float(((p - y) ** 2).mean())
    assert float(RegressionLoss("mse")(p, y)) == pytest.approx(mse)
    assert float(RegressionLoss("pairwise")(p, y)) == pytest.approx(mse + expected)
    # a correctly ordered prediction costs less than a reversed one
    assert pairwise_rank_loss(y, y) < pairwise_rank_loss(-y, y)
    assert listwise_rank_loss(3 * y, y) < listwise_rank_loss(-3 * y, y)


@pytest.mark.parametrize("loss", ["pairwise", "listwise"])
def test_ranking_losses_and_graph_features_train(nas_data, loss):
    graphs, y = nas_data
    model = GENNAPERegressor(n_clusters=2, loss=loss, **SMALL).fit(graphs, y)
    assert model.features_mean_ is None  # "family": scaled per call
    assert model.module_.heads.heads[0][0].in_features == 24 + 4
    assert np.isfinite(model.predict(graphs)).all()
    plain = GENNAPERegressor(n_clusters=2, graph_features="none", **SMALL).fit(
        graphs, y
    )
    assert plain.features_mean_ is None
    assert plain.module_.heads.heads[0][0].in_features == 24


def test_fine_tune_can_take_the_target_scale_from_its_samples(nas_data):
    graphs, y = nas_data
    model = GENNAPERegressor(**SMALL).fit(graphs, (y - y.mean()) / y.std())
    tuned = model.fine_tune(graphs[:6], 50 + y[:6], restandardise=True)
    assert tuned.y_mean_ == pytest.approx(np.mean(50 + y[:6]))
    assert tuned.y_scale_ == pytest.approx(np.std(y[:6]))
    assert model.y_mean_ == pytest.approx(0.0, abs=1e-9)  # the original is unchanged


def test_group_split_holds_out_whole_families():
    from sklearn_suite.nas._training import group_balanced_weights, split_groups

    groups = np.array(["a"] * 5 + ["b"] * 3 + ["c"] * 2)
    val, train = split_groups(groups, 0.1, np.random.RandomState(0))
    assert len(set(groups[val])) == 1 and not set(groups[val]) & set(groups[train])
    assert sorted(np.concatenate([val, train])) == list(range(10))
    val, _ = split_groups(groups, 0.9, np.random.RandomState(0))
    assert len(set(groups[val])) == 2  # never every family
    assert len(split_groups(groups, 0.0, np.random.RandomState(0))[0]) == 0
    w = group_balanced_weights(groups)
    assert [w[groups == g].sum() for g in "abc"] == pytest.approx([1, 1, 1])


def test_validation_holds_out_families_only_when_three_or_more():
    from sklearn_suite.nas._training import split_validation

    three = np.array(["a"] * 5 + ["b"] * 3 + ["c"] * 2)
    val, train = split_validation(10, 0.3, np.random.RandomState(0), three)
    assert not set(three[val]) & set(three[train])
    # with two families, holding one out would train on the other alone
    two = np.array(["a"] * 6 + ["b"] * 4)
    val, train = split_validation(10, 0.3, np.random.RandomState(0), two)
    assert len(val) == 3 and set(two[train]) == {"a", "b"}


def test_groups_standardise_features_per_family(nas_data):
    graphs, y = nas_data
    groups = np.repeat(["cell201", "resnet", "inception"], 8)
    model = GENNAPERegressor(**SMALL).fit(graphs, y, groups=groups)
    features = model._scaled_features(graphs, groups)
    for g in np.unique(groups):
        block = features[groups == g]
        np.testing.assert_allclose(block.mean(0), 0, atol=1e-5)
    # one call's networks are one family unless groups say otherwise
    alone = model._scaled_features(graphs[:8])
    np.testing.assert_allclose(alone, features[:8], atol=1e-5)
    with pytest.raises(ValueError, match="one family label per network"):
        model.fit(graphs, y, groups=groups[:5])


def test_proxies_are_features_that_survive_save_and_load(nas_data, tmp_path):
    graphs, y = nas_data
    groups = np.repeat(["cell201", "resnet", "inception"], 8)
    proxies = np.random.default_rng(0).normal(size=len(graphs))  # one column
    model = GENNAPERegressor(graph_features="global", **SMALL)
    model.fit(graphs, y, groups=groups, proxies=proxies)
    assert model.n_proxies_ == 1 and model.features_mean_.shape == (5,)
    pred = model.predict(graphs, proxies=proxies)
    model.save(tmp_path / "m.safetensors")
    loaded = GENNAPERegressor.load(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(loaded.predict(graphs, proxies=proxies), pred)
    tuned = model.fine_tune(graphs[:6], y[:6], proxies=proxies[:6])
    assert tuned.predict(graphs, proxies=proxies).shape == pred.shape
    with pytest.raises(ValueError, match="pass them as proxies"):
        model.predict(graphs)
    with pytest.raises(ValueError, match="with 24 rows"):
        model.predict(graphs, proxies=proxies[:5])
