import importlib.util
import json

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sklearn_suite.datasets import (
    ANALOG_NB201_OPS,
    build_network,
    load_digits_nas,
    read_nb201_analog,
)
from sklearn_suite.datasets._nas_families import FAMILIES, sample_specs
from sklearn_suite.nas import (
    count_params,
    graph_flops,
    jacov_score,
    synflow_score,
    to_graph,
)


def test_shipped_table_has_four_families_three_seeds_and_baselines():
    data = load_digits_nas()
    frame = data.frame
    assert len(frame) >= 1000
    assert set(frame["family"]) == set(FAMILIES)
    np.testing.assert_allclose(
        frame["accuracy"],
        frame[["accuracy_seed0", "accuracy_seed1", "accuracy_seed2"]].mean(1),
        atol=1e-3,
    )
    assert frame["accuracy"].std() > 5  # the budget spreads accuracies
    assert frame["spec"].is_unique
    for col in ("flops", "params", "synflow", "jacov"):
        assert frame[col].notna().all()


def test_builder_rebuilds_networks_matching_the_table():
    data = load_digits_nas()
    rows = data.frame.groupby("family").head(2)
    for _, row in rows.iterrows():
        net = data.build(json.loads(row["spec"]))
        assert count_params(net) == row["params"]
        assert graph_flops(to_graph(net, data.input_shape)) == row["flops"]
        assert net(torch.zeros(2, *data.input_shape)).shape == (2, 10)
    X, y = load_digits_nas(families=["resnet"], return_X_y=True)
    assert len(X) == len(y) == 150
    with pytest.raises(ValueError, match="unknown families"):
        load_digits_nas(families=["vgg"])


def test_table_proxies_are_reproduced_at_the_fixed_init():
    # make_digits_nas.py scores each network built right after manual_seed(0),
    # jacov on the first 64 digits of the training half
    digits = load_digits()
    train, _ = train_test_split(
        np.arange(len(digits.target)),
        test_size=0.5,
        stratify=digits.target,
        random_state=0,
    )
    X = torch.tensor(digits.images[train[:64]] / 16.0, dtype=torch.float32)[:, None]
    data = load_digits_nas()
    for _, row in data.frame.groupby("family").head(1).iterrows():
        torch.manual_seed(0)
        net = data.build(json.loads(row["spec"]))
        synflow = synflow_score(net, data.input_shape)
        assert synflow == pytest.approx(row["synflow"], rel=1e-4)
        assert jacov_score(net, X, random_state=0) == pytest.approx(
            row["jacov"], rel=1e-4
        )


def test_specs_are_sampled_reproducibly_and_distinct():
    for family in FAMILIES:
        a = sample_specs(family, 20, random_state=3)
        assert a == sample_specs(family, 20, random_state=3)
        assert len({json.dumps(s, sort_keys=True) for s in a}) == 20
    with pytest.raises(ValueError, match="unknown family"):
        build_network({"family": "vgg"})


def test_analog_nasbench_op_codes_are_pinned():
    # the library reads the wheel's data without importing the package
    if importlib.util.find_spec("analognasbench") is None:
        pytest.skip("optional extra [nas] (analog-nasbench) is not installed")
    data = read_nb201_analog()
    acc = dict(zip(data.frame["code"], data.frame["accuracy"]))
    assert len(acc) == 15625
    assert ANALOG_NB201_OPS[1] == "none" and acc[(1,) * 6] == pytest.approx(10.0)
    # all six edges nor_conv_3x3 (code 2) is a strong cell
    assert ANALOG_NB201_OPS[2] == "nor_conv_3x3"
    assert acc[(2,) * 6] == pytest.approx(93.24, abs=0.01)
    # NB-201's best known cell (conv3x3 everywhere, skip on 0->3) is in the top 3
    best_known = (2, 2, 0, 2, 2, 2)
    assert sum(v > acc[best_known] for v in acc.values()) <= 2
    # only edge 0->3 (position 2) alone connects input to output: a single conv
    # there trains, a single conv anywhere else leaves the output at zero
    for pos in range(6):
        code = tuple(2 if i == pos else 1 for i in range(6))
        assert (acc[code] > 50) == (pos == 2)
    spec = read_nb201_analog(n=1, random_state=0).specs[0]
    net = build_network(spec)
    assert net(torch.zeros(1, 3, 32, 32)).shape == (1, 10)
