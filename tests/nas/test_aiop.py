import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from sklearn_suite import AIOPRegressor
from sklearn_suite.datasets import build_network
from sklearn_suite.datasets._nas_families import sample_specs
from sklearn_suite.nas import FINETUNE_MODES, graph_flops, to_graph
from sklearn_suite.nas._aiop import TargetScaler, flops_factor
from sklearn_suite.nas._modules import KAdapter

SMALL = dict(
    max_epochs=3,
    adapter_max_epochs=3,
    finetune_max_epochs=2,
    batch_size=8,
    width=24,
    n_layers=3,
    random_state=0,
)


@pytest.fixture(scope="module")
def tasks():
    """Networks with three correlated synthetic 'tasks'."""
    specs = [
        s
        for fam in ("cell201", "mbconv", "resnet")
        for s in sample_specs(fam, 8, random_state=0)
    ]
    graphs = [to_graph(build_network(s), (1, 8, 8)) for s in specs]
    size = np.log([graph_flops(g) for g in graphs])
    rng = np.random.default_rng(0)
    pretrain = 60 + 3 * size + rng.normal(0, 1, len(graphs))
    pseudo = 40 + 2 * size + rng.normal(0, 1, len(graphs))
    downstream = 70 + 0.5 * size + rng.normal(0, 0.2, len(graphs))
    return graphs, pretrain, pseudo, downstream


@pytest.fixture(scope="module")
def infused(tasks):
    graphs, pretrain, pseudo, _ = tasks
    base = AIOPRegressor(**SMALL).fit(graphs, pretrain)
    base_state = {k: v.clone() for k, v in base.module_.state_dict().items()}
    model = AIOPRegressor(**SMALL).fit(graphs, pretrain).infuse(graphs, pseudo, "seg")
    return base_state, model


def _params(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def test_base_stays_frozen_during_infusion(tasks, infused):
    base_state, model = infused
    after = model.module_.state_dict()
    for name, value in base_state.items():
        torch.testing.assert_close(after[name], value, rtol=0, atol=0, msg=name)
    fresh = KAdapter(24, 3)
    trained = model.module_.adapters[0]
    changed = [
        not torch.equal(a, b)
        for a, b in zip(fresh.state_dict().values(), trained.state_dict().values())
    ]
    assert any(changed) and model.tasks_ == ["seg"] and model.task_ == "seg"


def test_adapter_layers_read_the_base_layer_outputs(tasks, infused):
    from torch_geometric.data import Batch

    graphs = tasks[0]
    model = infused[1].module_.eval()
    batch = Batch.from_data_list(graphs[:4])
    states = model.encoder.node_layers(batch)
    seen = []
    hooks = [
        conv.register_forward_hook(lambda mod, inp, out: seen.append((inp[0], out)))
        for conv in model.adapters[0].convs
    ]
    features = torch.from_numpy(infused[1]._scaled_features(graphs[:4]))
    with torch.no_grad():
        model(batch, features=features)
    for hook in hooks:
        hook.remove()
    assert len(seen) == 3
    width = 24
    # layer i reads [base layer-i output, previous adapter output]; the first
    # "previous output" is the base's raw node embedding
    torch.testing.assert_close(seen[0][0][:, width:], states[0])
    for i, (inp, _) in enumerate(seen):
        torch.testing.assert_close(inp[:, :width], states[i + 1])
        if i:
            torch.testing.assert_close(inp[:, width:], torch.tanh(seen[i - 1][1]))


def test_predictions_average_the_adapters(tasks, infused):
    graphs, _, pseudo, _ = tasks
    model = infused[1]
    two = model.fine_tune(graphs, pseudo, mode="heads")  # a copy to extend
    two.infuse(graphs, pseudo[::-1].copy(), task="reversed")
    from torch_geometric.data import Batch

    batch = Batch.from_data_list(graphs)
    features = torch.from_numpy(two._scaled_features(graphs))
    with torch.no_grad():
        each = [two.module_(batch, k, features).numpy() for k in (0, 1)]
        both = two.module_(batch, features=features).numpy()
    np.testing.assert_allclose(
        both,
        two.scaler_.transform(two.predict(graphs), two._flops(graphs, None)),
        rtol=1e-4,
        atol=1e-5,
    )
    np.testing.assert_allclose(both, np.mean(each, axis=0), rtol=1e-5, atol=1e-6)
    assert two.tasks_ == ["seg", "reversed"] and model.tasks_ == ["seg"]


def test_fine_tune_statistics_come_from_the_fine_tuning_samples_only(tasks, infused):
    graphs, _, _, downstream = tasks
    model = infused[1]
    few, rest = slice(0, 10), slice(10, None)
    tuned = model.fine_tune(graphs[few], downstream[few])
    flops = np.array([graph_flops(g) for g in graphs[few]])
    scaled = downstream[few] / flops_factor(flops)
    assert tuned.target_mean_ == pytest.approx(scaled.mean())
    assert tuned.target_scale_ == pytest.approx(scaled.std())
    # predicting other networks neither needs nor changes any statistic
    first = tuned.predict(graphs[rest])
    tuned.predict(graphs[few])
    np.testing.assert_array_equal(tuned.predict(graphs[rest]), first)
    assert tuned.target_mean_ == pytest.approx(scaled.mean())
    # predictions are in the downstream task's units, not the pretraining task's
    assert abs(first.mean() - downstream[few].mean()) < 3 * downstream[few].std()


def test_fine_tune_leaves_the_original_unchanged(tasks, infused):
    graphs, _, _, downstream = tasks
    model = infused[1]
    before_params = _params(model.module_)
    before = model.predict(graphs)
    tuned = model.fine_tune(graphs[:10], downstream[:10], mode="heads+base+adapters")
    assert tuned is not model and tuned.task_ == "fine-tuned"
    np.testing.assert_array_equal(model.predict(graphs), before)
    for name, value in _params(model.module_).items():
        assert torch.equal(value, before_params[name]), name
    assert model.task_ == "seg"


@pytest.mark.parametrize("mode", FINETUNE_MODES)
def test_fine_tune_modes_train_exactly_their_parameters(tasks, infused, mode):
    graphs, _, _, downstream = tasks
    model = infused[1]
    before = _params(model.module_)
    after = _params(model.fine_tune(graphs[:6], downstream[:6], mode=mode).module_)
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    groups = {
        "heads": {n for n in before if ".head." in n and n.startswith("adapters")},
        "base": {n for n in before if n.startswith("encoder.convs")},
        "adapters": {n for n in before if ".convs." in n and n.startswith("adapters")},
    }
    trained = mode.split("+")
    expected = set().union(*(groups[g] for g in trained))
    assert changed <= expected
    assert all(changed & groups[g] for g in trained)
    assert not any(n.startswith(("encoder.embedding", "head.")) for n in changed)


def test_zero_finetune_epochs_only_recalibrates(tasks, infused):
    graphs, _, _, downstream = tasks
    model = infused[1]
    trained = model.fine_tune(graphs[:10], downstream[:10])
    calibrated = model.set_params(finetune_max_epochs=0).fine_tune(
        graphs[:10], downstream[:10]
    )
    model.set_params(finetune_max_epochs=SMALL["finetune_max_epochs"])
    for name, value in _params(model.module_).items():
        assert torch.equal(value, _params(calibrated.module_)[name])
    assert calibrated.target_mean_ == trained.target_mean_ != model.target_mean_


@pytest.mark.parametrize("kind", ["none", "stand", "stand_flops"])
def test_target_scaler_round_trips_and_uses_gflops(kind):
    rng = np.random.default_rng(0)
    y, flops = rng.uniform(50, 90, 30), rng.uniform(1e8, 5e9, 30)
    scaler = TargetScaler(kind).fit(y, flops)
    z = scaler.transform(y, flops)
    np.testing.assert_allclose(scaler.inverse_transform(z, flops), y)
    if kind == "none":
        np.testing.assert_array_equal(z, y)
    else:
        assert z.mean() == pytest.approx(0, abs=1e-9)
        assert z.std() == pytest.approx(1)
    assert flops_factor(1e9) == pytest.approx(np.log10(2) + 1)


def test_flops_given_or_counted_are_equivalent(tasks):
    graphs, pretrain, _, _ = tasks
    flops = [graph_flops(g) for g in graphs]
    a = AIOPRegressor(**SMALL).fit(graphs, pretrain)
    b = AIOPRegressor(**SMALL).fit(graphs, pretrain, flops=flops)
    np.testing.assert_allclose(a.predict(graphs), b.predict(graphs, flops=flops))
    with pytest.raises(ValueError, match="one finite value per network"):
        a.predict(graphs, flops=flops[:-1])


def test_infuse_needs_a_fit_and_a_new_task(tasks, infused):
    graphs, _, pseudo, _ = tasks
    with pytest.raises(NotFittedError):
        AIOPRegressor(**SMALL).infuse(graphs, pseudo, task="seg")
    with pytest.raises(ValueError, match="already has an adapter"):
        infused[1].infuse(graphs, pseudo, task="seg")
    with pytest.raises(ValueError, match="non-empty str"):
        infused[1].infuse(graphs, pseudo, task="")
    with pytest.raises(ValueError, match="mode must be one of"):
        infused[1].fine_tune(graphs, pseudo, mode="everything")


def test_infusion_is_deterministic(tasks):
    graphs, pretrain, pseudo, _ = tasks
    preds = [
        AIOPRegressor(**SMALL)
        .fit(graphs, pretrain)
        .infuse(graphs, pseudo, "seg")
        .predict(graphs)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(*preds)


def test_fitted_weights_live_on_cpu(infused):
    assert all(p.device.type == "cpu" for p in infused[1].module_.parameters())
    assert all(p.requires_grad for p in infused[1].module_.parameters())


@pytest.mark.gpu
def test_fit_infuse_fine_tune_on_cuda(tasks):
    graphs, pretrain, pseudo, downstream = tasks
    model = AIOPRegressor(device="cuda", **SMALL).fit(graphs, pretrain)
    model.infuse(graphs, pseudo, task="seg")
    tuned = model.fine_tune(graphs[:6], downstream[:6], mode="heads+base+adapters")
    pred = tuned.predict(graphs)
    assert pred.shape == (len(graphs),) and np.isfinite(pred).all()
    cpu = tuned.set_params(device="cpu").predict(graphs)
    np.testing.assert_allclose(cpu, pred, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("graph_features, n_features", [("family", 4), ("none", 0)])
def test_graph_features_reach_every_head(tasks, graph_features, n_features):
    graphs, pretrain, pseudo, _ = tasks
    params = {**SMALL, "max_epochs": 1, "adapter_max_epochs": 1}
    model = AIOPRegressor(graph_features=graph_features, **params)
    model.fit(graphs, pretrain).infuse(graphs, pseudo, "seg")
    width = SMALL["width"]
    assert model.module_.head[0].in_features == width + n_features
    assert model.module_.adapters[0].head[0].in_features == 2 * width + n_features


def test_family_features_standardise_within_each_family_of_a_call(tasks, infused):
    graphs, pretrain, pseudo, _ = tasks
    families = np.repeat(["cell201", "mbconv", "resnet"], 8)
    model = AIOPRegressor(**SMALL).fit(graphs, pretrain, groups=families)
    model.infuse(graphs, pseudo, "seg", groups=families)
    together = model.predict(graphs, groups=families)
    for family in np.unique(families):
        rows = np.flatnonzero(families == family)
        alone = model.predict([graphs[i] for i in rows])
        np.testing.assert_allclose(together[rows], alone, rtol=1e-5, atol=1e-6)
    # one call without groups standardises all the families together
    assert not np.allclose(model.predict(graphs), together)
    with pytest.raises(ValueError, match="one family label per network"):
        model.fine_tune(graphs[:6], pretrain[:6], groups=families[:5])


def test_proxies_join_the_features_and_are_needed_afterwards(tasks):
    graphs, pretrain, pseudo, downstream = tasks
    params = {**SMALL, "max_epochs": 2, "adapter_max_epochs": 2}
    proxies = np.random.default_rng(0).normal(size=(len(graphs), 2))
    model = AIOPRegressor(**params).fit(graphs, pretrain, proxies=proxies)
    model.infuse(graphs, pseudo, "seg", proxies=proxies)
    assert model.n_proxies_ == 2
    assert model.module_.adapters[0].head[0].in_features == 2 * SMALL["width"] + 6
    tuned = model.fine_tune(graphs[:6], downstream[:6], proxies=proxies[:6])
    pred = tuned.predict(graphs, proxies=proxies)
    assert pred.shape == (len(graphs),)
    assert not np.allclose(pred, tuned.predict(graphs, proxies=proxies[:, ::-1]))
    with pytest.raises(ValueError, match="fitted with 2 proxies"):
        tuned.predict(graphs)
    with pytest.raises(ValueError, match="fitted with 2 proxies"):
        tuned.predict(graphs, proxies=proxies[:, :1])
    with pytest.raises(ValueError, match="graph_features='none'"):
        AIOPRegressor(graph_features="none", **params).fit(
            graphs, pretrain, proxies=proxies
        )
