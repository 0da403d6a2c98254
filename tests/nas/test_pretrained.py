import numpy as np
import pytest
import torch

from sklearn_suite.nas import (
    _pretrained,
    family_graphs,
    pretrained_gennape,
    pretraining_set,
)
from sklearn_suite.nas._pretrained import _load_graphs, _save_graphs

TINY = dict(cl_max_epochs=1, max_epochs=2, width=24, n_layers=2, n_clusters=2)


def test_family_graphs_are_cached_and_read_back_identical(tmp_path):
    graphs, y = family_graphs("resnet", data_home=tmp_path)
    (cached,) = tmp_path.glob("sklearn_suite/nas/graphs-resnet-*.safetensors")
    again, y2 = family_graphs("resnet", data_home=tmp_path)
    np.testing.assert_array_equal(y, y2)
    assert len(again) == len(graphs) == 150
    for a, b in zip(graphs, again):
        for field in (
            "x_op", "x_res", "x_kernel", "x_bias", "x_groups", "edge_index", "features"
        ):  # fmt: skip
            assert torch.equal(getattr(a, field), getattr(b, field))
        assert a.num_nodes == b.num_nodes
    _save_graphs(graphs[:3], tmp_path / "three.safetensors")
    assert [g.num_nodes for g in _load_graphs(tmp_path / "three.safetensors")] == [
        g.num_nodes for g in graphs[:3]
    ]


def test_pretraining_set_standardises_each_family(tmp_path):
    graphs, y, family = pretraining_set(("resnet", "mbconv"), data_home=tmp_path)
    assert len(graphs) == len(y) == len(family) == 300
    for name in ("resnet", "mbconv"):
        assert y[family == name].mean() == pytest.approx(0, abs=1e-9)
        assert y[family == name].std() == pytest.approx(1)


def test_pretrained_predictor_is_deterministic_and_cached(tmp_path):
    first = pretrained_gennape(families=("resnet",), data_home=tmp_path, **TINY)
    (path,) = tmp_path.glob("sklearn_suite/nas/gennape-*.safetensors")
    stamp = path.stat().st_mtime_ns
    cached = pretrained_gennape(families=("resnet",), data_home=tmp_path, **TINY)
    assert path.stat().st_mtime_ns == stamp  # read, not refitted
    graphs, _ = family_graphs("resnet", data_home=tmp_path)
    np.testing.assert_allclose(cached.predict(graphs), first.predict(graphs))
    elsewhere = pretrained_gennape(
        families=("resnet",), data_home=tmp_path / "other", **TINY
    )
    np.testing.assert_array_equal(elsewhere.predict(graphs), first.predict(graphs))
    # another setting is another model
    pretrained_gennape(families=("resnet",), data_home=tmp_path, lr=2e-3, **TINY)
    assert len(list(tmp_path.glob("sklearn_suite/nas/gennape-*"))) == 2


def test_retrained_labels_are_not_served_the_old_model(tmp_path, monkeypatch):
    pretrained_gennape(families=("resnet",), data_home=tmp_path, **TINY)
    family_data = _pretrained._family_data

    def relabelled(family, n=None, random_state=0):
        data = family_data(family, n, random_state)
        data.target = data.target[::-1].copy()
        return data

    monkeypatch.setattr(_pretrained, "_family_data", relabelled)
    pretrained_gennape(families=("resnet",), data_home=tmp_path, **TINY)
    assert len(list(tmp_path.glob("sklearn_suite/nas/gennape-*"))) == 2


def test_unknown_family_is_refused():
    with pytest.raises(ValueError, match="unknown family"):
        family_graphs("vgg")
