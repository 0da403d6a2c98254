"""What the computation-graph predictors share: input checks, label-free graph
views and the contrastive loss, batching of graphs, and their training stages on
the library's skorch engine (graphs reach skorch as ``ItemDataset`` items that a
module-level collate turns into torch_geometric batches)."""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sklearn_suite.base import fit_net, make_net
from sklearn_suite.nas._graph import GRAPH_FEATURES

_GRAPH_FIELDS = ("x_op", "x_res", "x_kernel", "x_bias", "x_weighted", "edge_index")


def check_graphs(X, input_shape, name="X", n_jobs=None):
    """Turn a list of modules and/or computation graphs into a list of graphs."""
    from torch_geometric.data import Data

    from sklearn_suite.nas._graph import to_graphs

    if isinstance(X, (str, nn.Module, Data)) or not hasattr(X, "__len__"):
        raise TypeError(
            f"{name} must be a list of torch.nn.Module or computation graphs "
            f"(torch_geometric Data from sklearn_suite.nas.to_graph); got "
            f"{type(X).__name__}."
        )
    if len(X) == 0:
        raise ValueError(f"{name} is empty; at least one network is required.")
    X = list(X)
    modules = [i for i, item in enumerate(X) if isinstance(item, nn.Module)]
    converted = to_graphs([X[i] for i in modules], input_shape, n_jobs)
    for i, graph in zip(modules, converted):
        X[i] = graph
    graphs = []
    for i, item in enumerate(X):
        if not isinstance(item, Data):
            raise TypeError(
                f"{name}[{i}] must be a torch.nn.Module or a computation graph; got "
                f"{type(item).__name__}."
            )
        missing = [f for f in _GRAPH_FIELDS if not hasattr(item, f)]
        if missing:
            raise ValueError(
                f"{name}[{i}] is a graph without {missing}; build graphs with "
                "sklearn_suite.nas.to_graph."
            )
        _check_graph_content(item, f"{name}[{i}]")
        graphs.append(item)
    return graphs


def _check_graph_content(graph, name):
    """Op ids in the vocabulary, edges between existing nodes, finite features:
    what a hand-made or edited graph can get wrong."""
    from sklearn_suite.nas._graph import VOCAB

    n = graph.x_op.shape[0]
    if n == 0:
        raise ValueError(f"{name} has no node.")
    ops = graph.x_op
    if (
        ops.dtype.is_floating_point
        or int(ops.min()) < 0
        or int(ops.max()) >= len(VOCAB)
    ):
        raise ValueError(
            f"{name} has op ids outside the vocabulary [0, {len(VOCAB) - 1}]."
        )
    edges = graph.edge_index
    if edges.ndim != 2 or edges.shape[0] != 2:
        raise ValueError(f"{name}.edge_index must have shape (2, n_edges).")
    if edges.numel() and (int(edges.min()) < 0 or int(edges.max()) >= n):
        raise ValueError(f"{name} has edges to nodes that do not exist (n={n}).")
    for field in ("x_res", "x_bias"):
        values = getattr(graph, field)
        if values.shape[0] != n or not torch.isfinite(values.float()).all():
            raise ValueError(f"{name}.{field} must hold finite values for {n} nodes.")


def check_targets(y, n):
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (one value per network); got shape {y.shape}.")
    if len(y) != n:
        raise ValueError(
            f"X and y have different lengths: {n} networks, {len(y)} targets."
        )
    if not np.all(np.isfinite(y)):
        raise ValueError("y contains NaN or infinity.")
    return y


def augment_view(batch, mask_rate, edge_drop, jitter=0.05):
    """A label-free random view of a batch of graphs for contrastive learning.

    Masks ``mask_rate`` of the op labels to out-of-vocabulary, jitters resolution
    features multiplicatively, and drops ``edge_drop`` of the edges that enter a
    node with several inputs, always keeping one input edge per node, so every
    node stays connected to the input.
    """
    view = batch.clone()
    view.x_op = torch.where(
        torch.rand(view.x_op.shape, device=view.x_op.device) < mask_rate,
        torch.zeros_like(view.x_op),
        view.x_op,
    )
    view.x_res = view.x_res * (1 + jitter * torch.randn_like(view.x_res))
    src, dst = view.edge_index
    if len(dst):
        keys = torch.rand(len(dst), device=dst.device)
        perm = torch.argsort(keys, descending=True)
        perm = perm[torch.argsort(dst[perm], stable=True)]
        first = torch.ones(len(dst), dtype=torch.bool, device=dst.device)
        first[1:] = dst[perm][1:] != dst[perm][:-1]
        protected = torch.zeros_like(first)
        protected[perm[first]] = True
        keep = protected | (torch.rand(len(dst), device=dst.device) >= edge_drop)
        view.edge_index = view.edge_index[:, keep]
    return view


def nt_xent(z1, z2, temperature):
    """NT-Xent (SimCLR): each view's positive is the other view of the same graph,
    every other graph in the batch (both views) is a negative."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.t() / temperature
    sim.fill_diagonal_(float("-inf"))
    n = len(z1)
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, target)


class ContrastiveViews(nn.Module):
    """Encoder and projection applied to two label-free views of a batch (the
    contrastive stage's module; it shares its submodules with the predictor)."""

    def __init__(self, encoder, projection, mask_rate, edge_drop):
        super().__init__()
        self.encoder = encoder
        self.projection = projection
        self.mask_rate = mask_rate
        self.edge_drop = edge_drop

    def forward(self, data):
        return tuple(
            self.projection(
                self.encoder(augment_view(data, self.mask_rate, self.edge_drop))
            )
            for _ in range(2)
        )


class NTXentLoss(nn.Module):
    """:func:`nt_xent` as a skorch criterion (the target is unused)."""

    def __init__(self, temperature=0.1):
        super().__init__()
        self.temperature = temperature

    def forward(self, views, target=None):
        return nt_xent(*views, self.temperature)


def pairwise_rank_loss(pred, target):
    """RankNet: ``mean softplus(-(p_i - p_j))`` over the pairs with ``y_i > y_j``,
    i.e. the cross-entropy of ``P(i beats j) = sigmoid(p_i - p_j)``; 0 without
    such a pair."""
    better = target[:, None] > target[None, :]
    if not better.any():
        return pred.sum() * 0.0
    return F.softplus(pred[None, :] - pred[:, None])[better].mean()


def listwise_rank_loss(pred, target):
    """ListNet (top-one): cross-entropy between ``softmax(y)`` and
    ``softmax(p)`` over the batch."""
    return -(torch.softmax(target, 0) * torch.log_softmax(pred, 0)).sum()


RANK_LOSSES = {"pairwise": pairwise_rank_loss, "listwise": listwise_rank_loss}


class RegressionLoss(nn.Module):
    """MSE on the standardised targets, plus a ranking term over the batch with
    ``loss="pairwise"`` or ``"listwise"`` (the MSE keeps predictions in the
    targets' units)."""

    def __init__(self, loss="mse"):
        super().__init__()
        self.loss = loss

    def forward(self, pred, target):
        value = F.mse_loss(pred, target)
        if self.loss != "mse":
            value = value + RANK_LOSSES[self.loss](pred, target)
        return value


class GraphCollate:
    """``(graph or (graph, extra...), target)`` pairs -> a torch_geometric batch
    as ``X`` (or ``{"data": batch, name: stacked extra...}``) and the targets."""

    def __init__(self, extra=()):
        self.extra = tuple(extra)

    def __call__(self, items):
        from torch_geometric.data import Batch

        inputs, targets = zip(*items)
        y = torch.as_tensor(np.asarray(targets, dtype=np.float32))
        if not self.extra:
            return Batch.from_data_list(list(inputs)), y
        columns = list(zip(*inputs))
        X = {"data": Batch.from_data_list(list(columns[0]))}
        for name, values in zip(self.extra, columns[1:], strict=True):
            X[name] = torch.as_tensor(np.stack(values), dtype=torch.float32)
        return X, y


class GraphInputMixin:
    """Input checks shared by the fitted computation-graph predictors."""

    def _check_fitted_graphs(self, X):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "module_")
        return check_graphs(X, self.input_shape, n_jobs=self.n_jobs)


def _spread(values):
    """Column standard deviations, and which columns are constant (up to rounding:
    the mean of identical floats can differ from them in the last bit)."""
    spread = values.std(0)
    constant = spread <= 1e-9 * (1 + np.abs(values).max(0))
    return np.where(constant, 1.0, spread), constant


def standardise(values):
    """Columns to zero mean and unit spread; constant columns to zero."""
    spread, constant = _spread(values)
    out = (values - values.mean(0)) / spread
    out[:, constant] = 0.0
    return out


class GraphFeatureMixin:
    """Graph-level features (:func:`~sklearn_suite.nas.graph_features`) of the
    heads, and optional per-network ``proxies`` (zero-cost proxy scores) joined
    after them: standardised within each family (``graph_features="family"``), or
    with the training networks' mean and spread (``"global"``)."""

    def _n_features(self):
        graph = 0 if self.graph_features == "none" else len(GRAPH_FEATURES)
        return graph + self.n_proxies_

    def _check_proxies(self, proxies, n, fitting=False):
        """``proxies`` as an (n, k) float array (None without proxies); after
        fit, ``k`` must be the fitted number."""
        expected = None if fitting else self.n_proxies_
        if proxies is None:
            if expected:
                raise ValueError(
                    f"this model was fitted with {expected} proxies per network; "
                    "pass them as proxies=."
                )
            return None
        if self.graph_features == "none":
            raise ValueError(
                "proxies join the graph features; graph_features='none' uses none."
            )
        proxies = np.asarray(proxies, dtype=np.float64)
        if proxies.ndim == 1:
            proxies = proxies[:, None]
        if proxies.ndim != 2 or len(proxies) != n:
            raise ValueError(
                f"proxies must be of shape (n_networks, n_proxies) with {n} rows; "
                f"got shape {proxies.shape}."
            )
        if not np.all(np.isfinite(proxies)):
            raise ValueError("proxies must be finite.")
        if expected is not None and proxies.shape[1] != expected:
            raise ValueError(
                f"this model was fitted with {expected} proxies per network; got "
                f"{proxies.shape[1]}."
            )
        return proxies

    def _feature_values(self, graphs, proxies=None):
        values = feature_matrix(graphs)
        return values if proxies is None else np.hstack([values, proxies])

    def _fit_feature_scaling(self, graphs, proxies=None):
        self.n_proxies_ = 0 if proxies is None else proxies.shape[1]
        self.features_mean_ = self.features_scale_ = None
        if self.graph_features == "global":
            values = self._feature_values(graphs, proxies)
            self.features_mean_ = values.mean(0)
            self.features_scale_ = _spread(values)[0]

    def _scaled_features(self, graphs, groups=None, proxies=None):
        """(n, n_features) float32 array, or None without graph features."""
        if self.graph_features == "none":
            return None
        values = self._feature_values(graphs, proxies)
        if self.graph_features == "global":
            return ((values - self.features_mean_) / self.features_scale_).astype(
                np.float32
            )
        return family_standardised(values, groups).astype(np.float32)


def family_standardised(values, groups=None):
    """Rows of ``values`` standardised within each group (None: one group)."""
    groups = check_groups(groups, len(values))
    out = np.zeros_like(values)
    for group in np.unique(groups):
        out[groups == group] = standardise(values[groups == group])
    return out


def feature_matrix(graphs):
    """:func:`~sklearn_suite.nas.graph_features` of every graph, one row each (as
    stored by ``to_graph``; computed for graphs made elsewhere)."""
    from sklearn_suite.nas._graph import graph_features

    return np.stack(
        [
            g.features[0].numpy() if "features" in g else graph_features(g)
            for g in graphs
        ]
    )


def check_groups(groups, n):
    """Family labels of ``n`` networks (None: one family)."""
    if groups is None:
        return np.zeros(n, dtype=int)
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(
            f"groups must hold one family label per network: {n} networks, "
            f"groups of shape {groups.shape}."
        )
    return groups


def group_balanced_weights(groups):
    """Sampling weights under which every family weighs the same."""
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    return 1.0 / counts[inverse]


def graph_batches(graphs, device, batch_size=256):
    """torch_geometric batches of ``graphs`` on ``device``, in order (inference)."""
    from torch_geometric.data import Batch

    for start in range(0, len(graphs), batch_size):
        yield Batch.from_data_list(graphs[start : start + batch_size]).to(device)


def train_stage(module, train, *, stage, seed, device, lr, max_epochs, batch_size,
                valid=None, collate=None, criterion=RegressionLoss, callbacks=None,
                verbose=0, grad_clip=5.0, drop_last=False,
                sample_weight=None):  # fmt: skip
    """Train ``module`` with Adam on ``train`` (a torch Dataset or ``(X, y)``);
    with ``valid`` (a Dataset), keep the epoch of lowest validation loss (the
    training does not stop early). With ``sample_weight``, each epoch draws as
    many rows as ``train`` holds, with replacement, in proportion to the weights.

    Returns the fitted skorch net.
    """
    sampling = {}
    if sample_weight is not None:
        sampling = dict(
            shuffle=False,
            iterator_train__sampler=torch.utils.data.WeightedRandomSampler(
                torch.as_tensor(sample_weight, dtype=torch.double),
                len(sample_weight),
                generator=torch.Generator().manual_seed(seed),
            ),
        )
    net = make_net(
        module,
        stage=stage,
        seed=seed,
        device=device,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=batch_size,
        criterion=criterion,
        optimizer=torch.optim.Adam,
        valid=valid,
        early_stopping=(
            None
            if valid is None
            else dict(monitor="valid_loss", patience=max_epochs + 1, threshold=0)
        ),
        grad_clip=grad_clip,
        collate=collate,
        drop_last=drop_last,
        callbacks=callbacks,
        verbose=verbose,
        iterator_valid__batch_size=256,
        **sampling,
    )
    if isinstance(train, torch.utils.data.Dataset):
        fit_net(net, train)
    else:
        fit_net(net, *train)
    return net


def split_groups(groups, fraction, rng):
    """A seeded (validation, training) split of row indices by whole groups: about
    ``fraction`` of the groups, at least one when ``fraction > 0``, never all;
    validating on unseen families selects for transfer to them."""
    names = np.unique(groups)
    n_val = min(
        max(int(round(fraction * len(names))), int(fraction > 0)), len(names) - 1
    )
    held = rng.permutation(names)[:n_val]
    is_val = np.isin(groups, held)
    return np.flatnonzero(is_val), np.flatnonzero(~is_val)


def split_validation(n, fraction, rng, groups=None):
    """Validation and training rows: whole families held out when ``groups`` name
    three or more (with two, holding one out would train on a single family),
    otherwise rows."""
    if groups is not None and len(np.unique(groups)) >= 3:
        return split_groups(groups, fraction, rng)
    return split_rows(n, fraction, rng)


def split_rows(n, fraction, rng):
    """A seeded (validation, training) split of ``range(n)``; at least one row
    stays for training."""
    n_val = min(int(round(fraction * n)), n - 1)
    order = rng.permutation(n)
    return order[:n_val], order[n_val:]
