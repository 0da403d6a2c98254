"""Torch modules of the computation-graph predictors: node embedding, k-GNN encoder,
projection and regression heads."""

import torch
from torch import nn

from sklearn_suite.nas._graph import MAX_KERNEL, VOCAB


class CGNodeEmbedding(nn.Module):
    """GENNAPE's node embedding: regular nodes ``op (w-8) + resolution (8)``; weighted
    nodes ``op (w-18) + resolution (8) + kernel (2 x 4) + bias (2)``."""

    def __init__(self, width=32):
        super().__init__()
        if width < 24:
            raise ValueError(f"width must be >= 24, got {width}")
        self.regular_op = nn.Embedding(len(VOCAB), width - 8)
        self.regular_res = nn.Linear(6, 8)
        self.weighted_op = nn.Embedding(len(VOCAB), width - 18)
        self.weighted_res = nn.Linear(6, 8)
        self.kernel = nn.Embedding(MAX_KERNEL + 1, 4)
        self.bias = nn.Linear(2, 2)

    def forward(self, data):
        regular = torch.cat(
            [self.regular_op(data.x_op), self.regular_res(data.x_res)], 1
        )
        kernel = self.kernel(data.x_kernel.clamp(max=MAX_KERNEL)).flatten(1)
        weighted = torch.cat(
            [
                self.weighted_op(data.x_op),
                self.weighted_res(data.x_res),
                kernel,
                self.bias(data.x_bias),
            ],
            1,
        )
        return torch.where(data.x_weighted[:, None], weighted, regular)


class CGEncoder(nn.Module):
    """Node embedding, ``n_layers`` GraphConv layers with tanh, mean readout."""

    def __init__(self, width=32, n_layers=6):
        super().__init__()
        from torch_geometric.nn import GraphConv

        self.embedding = CGNodeEmbedding(width)
        self.convs = nn.ModuleList(GraphConv(width, width) for _ in range(n_layers))

    def node_layers(self, data):
        """Node states after the embedding and after every layer (list of tensors)."""
        h = self.embedding(data)
        states = [h]
        for conv in self.convs:
            h = torch.tanh(conv(h, data.edge_index))
            states.append(h)
        return states

    def forward(self, data):
        from torch_geometric.nn import global_mean_pool

        return global_mean_pool(self.node_layers(data)[-1], data.batch)


def regression_head(width=32, n_features=0):
    """GENNAPE's ``post_proj`` (Linear, Linear, ReLU, Linear, Linear) + Linear(w, 1),
    reading the graph embedding and ``n_features`` graph-level features."""
    return nn.Sequential(
        nn.Linear(width + n_features, width),
        nn.Linear(width, width),
        nn.ReLU(),
        nn.Linear(width, width),
        nn.Linear(width, width),
        nn.Linear(width, 1),
    )


class FuzzyHeads(nn.Module):
    """``n_heads`` regression heads combined by cluster membership; each reads the
    embedding joined to the (standardised) graph-level ``features``, if any."""

    def __init__(self, n_heads, width=32, n_features=0):
        super().__init__()
        self.heads = nn.ModuleList(
            regression_head(width, n_features) for _ in range(n_heads)
        )

    def forward(self, z, membership, features=None):
        if features is not None:
            z = torch.cat([z, features], 1)
        outputs = torch.cat([head(z) for head in self.heads], 1)
        return (outputs * membership).sum(1)


class GraphRegressor(nn.Module):
    """Encoder + membership-weighted heads, trained as one module."""

    def __init__(self, n_heads, width=32, n_layers=6, n_features=0):
        super().__init__()
        self.encoder = CGEncoder(width, n_layers)
        self.heads = FuzzyHeads(n_heads, width, n_features)
        self.projection = nn.Sequential(
            nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width)
        )

    def forward(self, data, membership, features=None):
        return self.heads(self.encoder(data), membership, features)


class KAdapter(nn.Module):
    """AIO-P's K-Adapter: a GNN parallel to a frozen base encoder.

    Adapter layer ``i`` reads ``concat(base layer-i node states, previous adapter
    output)``; its first input is the base's raw node embedding. The adapter's
    head reads ``concat(base graph embedding, adapter graph embedding)`` and
    ``n_features`` graph-level features, if any.
    """

    def __init__(self, width=32, n_layers=6, n_features=0):
        super().__init__()
        from torch_geometric.nn import GraphConv

        self.convs = nn.ModuleList(GraphConv(2 * width, width) for _ in range(n_layers))
        self.head = nn.Sequential(
            nn.Linear(2 * width + n_features, width), *regression_head(width)
        )

    def forward(self, base_states, edge_index, batch):
        """Graph embedding from the base's per-layer node states."""
        from torch_geometric.nn import global_mean_pool

        h = base_states[0]
        for conv, base in zip(self.convs, base_states[1:], strict=True):
            h = torch.tanh(conv(torch.cat([base, h], 1), edge_index))
        return global_mean_pool(h, batch)


class AdaptedRegressor(nn.Module):
    """A base CG regressor plus any number of K-Adapters whose predictions average;
    every head also reads ``n_features`` graph-level features, if any."""

    def __init__(self, width=32, n_layers=6, n_features=0):
        super().__init__()
        self.width, self.n_layers, self.n_features = width, n_layers, n_features
        self.encoder = CGEncoder(width, n_layers)
        self.head = regression_head(width, n_features)
        self.adapters = nn.ModuleList()

    def add_adapter(self):
        adapter = KAdapter(self.width, self.n_layers, self.n_features)
        self.adapters.append(adapter)
        return adapter

    def forward(self, data, adapter=None, features=None):
        """Predictions of the base alone (no adapters), of one adapter (index
        ``adapter``, as while it is infused), or the mean over all adapters."""
        from torch_geometric.nn import global_mean_pool

        states = self.encoder.node_layers(data)
        base = global_mean_pool(states[-1], data.batch)
        extra = [] if features is None else [features]
        if not len(self.adapters):
            return self.head(torch.cat([base, *extra], 1)).squeeze(1)
        chosen = self.adapters if adapter is None else [self.adapters[adapter]]
        preds = [
            a.head(torch.cat([base, a(states, data.edge_index, data.batch), *extra], 1))
            for a in chosen
        ]
        return torch.cat(preds, 1).mean(1)
