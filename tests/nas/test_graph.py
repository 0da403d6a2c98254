import networkx as nx
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sklearn_suite.datasets import build_network
from sklearn_suite.datasets._nas_families import FAMILIES, sample_specs
from sklearn_suite.nas import (
    GRAPH_FEATURES,
    VOCAB,
    GraphConversionError,
    graph_depth,
    graph_features,
    graph_flops,
    graph_params,
    graph_summary,
    to_graph,
    to_graphs,
    to_networkx,
)
from sklearn_suite.nas._graph import MAX_CHANNELS, MAX_HW
from sklearn_suite.nas._modules import CGNodeEmbedding


def _sequential():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1, bias=False),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.1),
        nn.Linear(16, 10),
    )


class Functional(nn.Module):
    """The same network as ``_sequential`` written with functional calls."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1, bias=False)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = F.max_pool2d(torch.relu(self.bn(self.conv1(x))), 2)
        x = F.relu(self.conv2(x))
        x = F.adaptive_avg_pool2d(x, 1).view(x.size(0), -1)
        return self.fc(F.dropout(x, 0.1, self.training))


def _match(a, b):
    return a == b


def test_sequential_and_functional_give_isomorphic_graphs():
    g1, g2 = to_graph(_sequential(), (1, 16, 16)), to_graph(Functional(), (1, 16, 16))
    assert nx.is_isomorphic(to_networkx(g1), to_networkx(g2), node_match=_match)
    ops = [VOCAB[i] for i in g1.x_op.tolist()]
    # flatten and dropout are pruned, global pooling is "mean", linear is "matmul"
    assert sorted(ops) == sorted(
        [
            "input",
            "conv",
            "batchnorm",
            "relu",
            "maxpool",
            "conv",
            "relu",
            "mean",
            "matmul",
            "output",
        ]
    )


def test_graph_features_resolution_kernel_bias_and_weighted_first():
    g = to_graph(_sequential(), (1, 16, 16))
    n_weighted = int(g.x_weighted.sum())
    assert n_weighted == 3 and g.x_weighted[:n_weighted].all()
    conv1, conv2, fc = range(3)
    assert g.x_kernel[conv1].tolist() == [3, 3] and g.x_kernel[fc].tolist() == [0, 0]
    assert g.x_bias[conv1].tolist() == [0, 1] and g.x_bias[conv2].tolist() == [1, 0]
    # (Hin, Hout, Win, Wout, Cin, Cout) over the fixed constants 256 and 512
    expected = torch.tensor(
        [
            8 / MAX_HW,
            8 / MAX_HW,
            8 / MAX_HW,
            8 / MAX_HW,
            8 / MAX_CHANNELS,
            16 / MAX_CHANNELS,
        ]
    )
    torch.testing.assert_close(g.x_res[conv2], expected)
    torch.testing.assert_close(g.x_res[fc, 4:], torch.tensor([16, 10]) / MAX_CHANNELS)
    src, dst = g.edge_index
    assert len(src) == g.num_nodes - 1  # a chain


class BasicBlock(nn.Module):
    """ResNet-18's basic block with a plain (edge-only) skip connection."""

    def __init__(self, c=8):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c)
        self.relu = nn.ReLU()

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + x)


def test_resnet_basic_block_is_a_chain_with_a_skip_edge():
    g = to_graph(BasicBlock(), (8, 16, 16))
    ops = [op for op, _ in graph_summary(g)]
    children = {
        i: [VOCAB[int(g.x_op[d])] for s, d in g.edge_index.t().tolist() if s == i]
        for i in range(g.num_nodes)
    }
    chain = ["conv", "batchnorm", "relu", "conv", "batchnorm", "add", "relu"]
    assert sorted(ops) == sorted(["input", *chain, "output"])
    (inp,) = [i for i, op in enumerate(ops) if op == "input"]
    assert sorted(children[inp]) == ["add", "conv"]  # main path + skip edge
    (add,) = [i for i, op in enumerate(ops) if op == "add"]
    assert children[add] == ["relu"]
    # an explicit nn.Identity shortcut is a node of its own
    family_block = build_network(
        {"family": "resnet", "block": "basic", "depths": [1, 1, 1], "width": 1.0}
    ).features[3]
    ops = [op for op, _ in graph_summary(to_graph(family_block, (8, 16, 16)))]
    assert ops.count("identity") == 1


def test_depthwise_concat_and_residual_add_are_recognised():
    mb = build_network(
        {
            "family": "mbconv",
            "stages": [{"blocks": [[5, 3]], "se": True, "act": "hswish"}] * 3,
        }
    )
    ops = [VOCAB[i] for i in to_graph(mb, (1, 16, 16)).x_op.tolist()]
    assert {"depthwise", "swish", "sigmoid", "mul", "mean"} <= set(ops)
    inc = build_network(
        {"family": "inception", "stages": [[["conv1x1", "conv3x3"]]] * 3}
    )
    ops = [VOCAB[i] for i in to_graph(inc, (1, 16, 16)).x_op.tolist()]
    assert ops.count("concat") == 3
    cell = build_network(
        {
            "family": "cell201",
            "ops": [
                "none",
                "skip_connect",
                "nor_conv_3x3",
                "avg_pool_3x3",
                "nor_conv_1x1",
                "none",
            ],
        }
    )
    ops = [VOCAB[i] for i in to_graph(cell, (1, 16, 16)).x_op.tolist()]
    assert {"zero", "identity", "avgpool", "add"} <= set(ops)


def test_kernels_larger_than_seven_keep_their_size():
    net = nn.Sequential(
        nn.Conv2d(1, 4, 9, padding=4),
        nn.Conv2d(4, 4, 11, padding=5),
        nn.Conv2d(4, 4, 7, padding=3),
    )
    g = to_graph(net, (1, 16, 16))
    assert sorted(g.x_kernel[g.x_weighted, 0].tolist()) == [7, 9, 11]
    # each size has its own embedding row: 9 and 11 do not wrap onto 1 and 3
    emb = CGNodeEmbedding(32)
    rows = emb.kernel(g.x_kernel[g.x_weighted, 0])
    assert torch.cdist(rows, rows).triu(1)[torch.ones(3, 3).triu(1).bool()].min() > 0
    with pytest.warns(UserWarning, match="17-wide kernel"):
        to_graph(nn.Conv2d(1, 2, 17, padding=8), (1, 16, 16))


def test_flops_count_convs_and_linears():
    g = to_graph(_sequential(), (1, 16, 16))
    expected = 16 * 16 * 8 * 1 * 9 + 8 * 8 * 16 * 8 * 9 + 16 * 10
    assert graph_flops(g) == expected
    dw = to_graph(nn.Conv2d(8, 8, 3, padding=1, groups=8), (8, 4, 4))
    assert graph_flops(dw) == 4 * 4 * 8 * 9


class Untraceable(nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # data-dependent control flow
            return x
        return -x


def test_untraceable_module_names_module_and_reason():
    with pytest.raises(GraphConversionError, match="Untraceable.*control flow"):
        to_graph(Untraceable(), (1, 4, 4))
    with pytest.raises(GraphConversionError, match="cannot propagate.*Sequential"):
        to_graph(nn.Sequential(nn.Linear(3, 2)), (1, 4, 4))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        to_graph("resnet", (1, 4, 4))


def test_out_of_vocabulary_rate_warning():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Softplus(), nn.LeakyReLU(), nn.ELU())
    with pytest.warns(UserWarning, match="out of vocabulary"):
        g = to_graph(net, (1, 8, 8))
    assert float(g.oov_rate) == pytest.approx(3 / 6)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_converts_without_oov(family):
    for spec in sample_specs(family, 3, random_state=0):
        g = to_graph(build_network(spec), (1, 16, 16))
        assert float(g.oov_rate) == 0.0
        assert g.edge_index.max() < g.num_nodes
        # every node but the input has a parent: the graph is connected from input
        (inp,) = (g.x_op == VOCAB.index("input")).nonzero().ravel().tolist()
        assert set(g.edge_index[1].tolist()) == set(range(g.num_nodes)) - {inp}


def test_to_graphs_in_parallel_equals_one_by_one():
    nets = [build_network(s) for s in sample_specs("resnet", 6, random_state=0)]
    serial = [to_graph(n, (1, 8, 8)) for n in nets]
    parallel = to_graphs(nets, (1, 8, 8), n_jobs=2)
    for a, b in zip(serial, parallel):
        assert torch.equal(a.x_op, b.x_op) and torch.equal(a.edge_index, b.edge_index)
        assert torch.equal(a.x_res, b.x_res)


def test_tracing_leaves_train_mode_and_statistics_alone():
    net = build_network(sample_specs("mbconv", 1, random_state=0)[0])
    net.train()
    net.features[1].eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    to_graph(net, (1, 8, 8))
    assert net.training and not net.features[1].training
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k])


class TwoSkips(nn.Module):
    """Two identities of one tensor, summed; then an in-place add and relu."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Identity(), nn.Identity()
        self.conv = nn.Conv2d(2, 2, 1)

    def forward(self, x):
        y = self.a(x) + self.b(x)  # both return x itself
        z = self.conv(x)
        z += y  # in place: z now names the add
        return torch.relu_(z) * x


def test_aliased_and_in_place_tensors_keep_their_own_producers():
    g = to_graph(TwoSkips(), (2, 4, 4))
    ops = [op for op, _ in graph_summary(g)]
    edges = {(ops[s], ops[d]) for s, d in g.edge_index.t().tolist()}
    assert ops.count("identity") == 2 and ops.count("add") == 2
    idx = {op: [i for i, o in enumerate(ops) if o == op] for op in set(ops)}
    (inp,) = idx["input"]
    parents = {
        i: sorted(ops[s] for s, d in g.edge_index.t().tolist() if d == i)
        for i in range(len(ops))
    }
    # each identity reads the input, the first add sums the two identities
    assert all(parents[i] == ["input"] for i in idx["identity"])
    assert sorted(parents[i] for i in idx["add"]) == [["add", "conv"], ["identity"] * 2]
    # relu_ follows the in-place add; the final mul reads relu and the input
    assert ("add", "relu") in edges and parents[idx["mul"][0]] == ["input", "relu"]


def test_networks_too_large_to_trace_are_refused_before_running():
    net = nn.Sequential(nn.Conv2d(3, 512, 3, padding=1), nn.ReLU())
    with pytest.raises(GraphConversionError, match="GiB of activations"):
        to_graph(net, (3, 1024, 1024))  # 4 GiB: measured with fake tensors


@pytest.mark.parametrize("family", FAMILIES)
def test_graph_params_count_every_parameter(family):
    for spec in sample_specs(family, 4, random_state=1):
        net = build_network(spec)
        expected = sum(p.numel() for p in net.parameters())
        assert graph_params(to_graph(net, (1, 8, 8))) == expected


def test_graph_features_of_a_known_network():
    g = to_graph(_sequential(), (1, 16, 16))
    flops = 16 * 16 * 8 * 1 * 9 + 8 * 8 * 16 * 8 * 9 + 16 * 10
    params = (8 * 9 + 8) + 2 * 8 + 16 * 8 * 9 + (16 * 10 + 10)
    np.testing.assert_allclose(
        graph_features(g), [np.log1p(flops), np.log1p(params), 3, np.log(16)]
    )
    # to_graph stores them, so predictors do not recompute them
    np.testing.assert_array_equal(g.features[0].numpy(), graph_features(g))
    # the skip edge of a basic block does not shorten its two-conv depth
    assert graph_depth(to_graph(BasicBlock(), (8, 16, 16))) == 2
    assert GRAPH_FEATURES == ("log_flops", "log_params", "depth", "log_width")
