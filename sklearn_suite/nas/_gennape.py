"""GENNAPERegressor: contrastive CG encoder, fuzzy c-means, membership-weighted
heads."""

import copy
import numbers

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin
from sklearn.utils import check_random_state, check_scalar
from sklearn.utils.validation import check_is_fitted
from torch import nn
from tqdm.auto import trange

from sklearn_suite.base import (
    BestState,
    TorchEstimatorMixin,
    check_device,
    check_seed,
    torch_seeded,
)
from sklearn_suite.nas._fcm import fcm_memberships, fuzzy_cmeans
from sklearn_suite.nas._graph import to_graphs
from sklearn_suite.nas._modules import GraphRegressor

_GRAPH_FIELDS = ("x_op", "x_res", "x_kernel", "x_bias", "x_weighted", "edge_index")


def check_graphs(X, input_shape, name="X", n_jobs=None):
    """Turn a list of modules and/or computation graphs into a list of graphs."""
    from torch_geometric.data import Data

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
        graphs.append(item)
    return graphs


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


class GraphInputMixin:
    """Batching and input checks shared by the computation-graph predictors."""

    def _batches(self, graphs, batch_size, order=None):
        from torch_geometric.data import Batch

        order = np.arange(len(graphs)) if order is None else order
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            yield idx, Batch.from_data_list([graphs[i] for i in idx]).to(self._device)

    def _check_fitted_graphs(self, X):
        check_is_fitted(self, "module_")
        self._device = check_device(self.device)
        return check_graphs(X, self.input_shape, n_jobs=self.n_jobs)


class GENNAPERegressor(
    GraphInputMixin,
    TorchEstimatorMixin,
    TransformerMixin,
    RegressorMixin,
    BaseEstimator,
):
    """GENNAPE: a performance predictor for any CNN, from its computation graph.

    Networks become computation graphs (:func:`sklearn_suite.nas.to_graph`). A k-GNN
    encoder (GraphConv layers with tanh, mean readout) is first trained with a
    contrastive NT-Xent loss on label-free augmented views of every training graph
    and of ``X_unlabeled``; fuzzy c-means is then fitted on its frozen embeddings,
    and ``n_clusters`` regression heads are trained whose outputs are combined by
    each graph's fuzzy membership. With ``n_clusters=1`` and ``X_unlabeled`` holding
    the target families' networks this is the general-purpose CG + contrastive
    predictor of Han et al. (SDM 2023).

    Parameters
    ----------
    n_clusters : int, default=4
        Fuzzy c-means clusters, one regression head each.
    fuzzifier : float, default=2.0
        Fuzzy c-means exponent ``m > 1``.
    membership : {"soft", "hard"}, default="soft"
        ``"hard"`` routes each graph to its highest-membership head only (an
        ablation; GENNAPE is soft).
    cl_epochs : int, default=50
        Contrastive pretraining epochs. 0 skips it; the encoder is then trained
        jointly with the head (the plain k-GNN regressor), which needs
        ``n_clusters=1``.
    cl_temperature : float, default=0.1
        NT-Xent temperature.
    cl_lr : float, default=1e-3
        Adam learning rate of the contrastive stage.
    cl_mask_rate : float, default=0.15
        Fraction of op labels masked to out-of-vocabulary in each view.
    cl_edge_drop : float, default=0.1
        Drop rate of redundant edges in each view.
    epochs : int, default=100
        Regression epochs.
    lr : float, default=1e-3
        Adam learning rate of the regression stage.
    batch_size : int, default=32
        Graphs per batch (both stages).
    validation_fraction : float, default=0.1
        Share of the labelled networks held out to pick the best regression epoch
        (0 keeps the last epoch).
    finetune_epochs : int, default=100
        Epochs of :meth:`fine_tune`.
    finetune_lr : float, default=1e-4
        Adam learning rate of :meth:`fine_tune`.
    finetune_batch_size : int, default=1
        Batch size of :meth:`fine_tune` (1 as in GENNAPE's protocol).
    width : int, default=32
        Node embedding and hidden width.
    n_layers : int, default=6
        GraphConv layers.
    input_shape : tuple of int, default=(1, 8, 8)
        ``(C, H, W)`` used to trace modules given in ``X`` (the default is that of
        :func:`sklearn_suite.datasets.load_digits_nas`).
    device : str, default="cpu"
        Torch device for training and inference.
    n_jobs : int, default=None
        Processes that trace modules given in ``X`` (joblib; None is 1).
    random_state : int, RandomState instance or None, default=None
        Seeds splits, initialisation, views and fuzzy c-means.
    verbose : int, default=0
        1 shows a progress bar per stage.

    Attributes
    ----------
    module_ : GraphRegressor
        Encoder, projection head and regression heads (on CPU).
    cluster_centers_ : ndarray of shape (n_clusters, width)
        Fuzzy c-means centres in embedding space.
    y_mean_ : float
        Mean of the training targets (the heads predict standardised targets).
    y_scale_ : float
        Standard deviation of the training targets.
    encoder_frozen_ : bool
        True when the encoder was trained contrastively and frozen for the heads.
    history_ : dict
        ``"cl_loss"``, ``"train_loss"`` and ``"val_loss"`` per epoch.

    Examples
    --------
    >>> from torch import nn
    >>> from sklearn_suite import GENNAPERegressor
    >>> nets = [nn.Sequential(nn.Conv2d(1, c, k, padding=k // 2), nn.ReLU(),
    ...                       nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10))
    ...         for c in (4, 8, 16) for k in (1, 3, 5)]
    >>> y = [60 + 2 * i for i in range(9)]
    >>> model = GENNAPERegressor(n_clusters=2, cl_epochs=2, epochs=2,
    ...                          random_state=0).fit(nets, y)
    >>> model.predict(nets).shape, model.predict_membership(nets).shape
    ((9,), (9, 2))

    References
    ----------
    .. [1] K. G. Mills et al., "GENNAPE: Towards Generalized Neural Architecture
       Performance Estimators", AAAI 2023, arXiv:2211.17226.
    .. [2] F. X. Han, K. G. Mills et al., "A General-Purpose Transferable Predictor
       for Neural Architecture Search", SDM 2023, arXiv:2302.10835.
    """

    def __init__(
        self,
        n_clusters=4,
        fuzzifier=2.0,
        membership="soft",
        cl_epochs=50,
        cl_temperature=0.1,
        cl_lr=1e-3,
        cl_mask_rate=0.15,
        cl_edge_drop=0.1,
        epochs=100,
        lr=1e-3,
        batch_size=32,
        validation_fraction=0.1,
        finetune_epochs=100,
        finetune_lr=1e-4,
        finetune_batch_size=1,
        width=32,
        n_layers=6,
        input_shape=(1, 8, 8),
        device="cpu",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.n_clusters = n_clusters
        self.fuzzifier = fuzzifier
        self.membership = membership
        self.cl_epochs = cl_epochs
        self.cl_temperature = cl_temperature
        self.cl_lr = cl_lr
        self.cl_mask_rate = cl_mask_rate
        self.cl_edge_drop = cl_edge_drop
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.finetune_epochs = finetune_epochs
        self.finetune_lr = finetune_lr
        self.finetune_batch_size = finetune_batch_size
        self.width = width
        self.n_layers = n_layers
        self.input_shape = input_shape
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ checks
    def _validate_params(self):
        check_scalar(self.n_clusters, "n_clusters", numbers.Integral, min_val=1)
        check_scalar(
            self.fuzzifier,
            "fuzzifier",
            numbers.Real,
            min_val=1,
            include_boundaries="neither",
        )
        if self.membership not in ("soft", "hard"):
            raise ValueError(
                f"membership must be 'soft' or 'hard'; got {self.membership!r}."
            )
        check_scalar(self.cl_epochs, "cl_epochs", numbers.Integral, min_val=0)
        check_scalar(self.epochs, "epochs", numbers.Integral, min_val=1)
        check_scalar(self.batch_size, "batch_size", numbers.Integral, min_val=2)
        check_scalar(
            self.validation_fraction,
            "validation_fraction",
            numbers.Real,
            min_val=0,
            max_val=1,
            include_boundaries="left",
        )
        check_scalar(
            self.finetune_batch_size, "finetune_batch_size", numbers.Integral, min_val=1
        )
        if self.cl_epochs == 0 and self.n_clusters > 1:
            raise ValueError(
                "n_clusters > 1 needs a contrastively trained encoder to cluster "
                "(cl_epochs > 0); cl_epochs=0 is the plain k-GNN with n_clusters=1."
            )
        return check_device(self.device)

    # -------------------------------------------------------------- embedding
    def _embed(self, graphs):
        encoder = self.module_.encoder.to(self._device).eval()
        with torch.no_grad():
            out = [encoder(batch).cpu() for _, batch in self._batches(graphs, 256)]
        return torch.cat(out)

    def _memberships(self, Z):
        if self.cluster_centers_ is None:
            return np.ones((len(Z), 1))
        u = fcm_memberships(
            np.asarray(Z, dtype=np.float64), self.cluster_centers_, self.fuzzifier
        )
        if self.membership == "hard":
            u = np.eye(u.shape[1])[u.argmax(1)]
        return u

    # -------------------------------------------------------------------- fit
    def fit(self, X, y, X_unlabeled=None):
        """Pretrain the encoder contrastively, cluster, and train the heads.

        Parameters
        ----------
        X : list of torch.nn.Module or torch_geometric.data.Data
            Labelled networks (or their computation graphs).
        y : array-like of shape (n_networks,)
            Their performance (accuracy as a fraction or in percent; predictions
            come back in the same units).
        X_unlabeled : list of torch.nn.Module or Data, default=None
            Further networks used only by the contrastive stage (for the
            general-purpose predictor: the target families' networks).

        Returns
        -------
        self : GENNAPERegressor
        """
        self._device = self._validate_params()
        graphs = check_graphs(X, self.input_shape, n_jobs=self.n_jobs)
        y = check_targets(y, len(graphs))
        if len(graphs) < 2:
            raise ValueError("fit needs at least 2 labelled networks.")
        extra = (
            []
            if X_unlabeled is None
            else check_graphs(X_unlabeled, self.input_shape, "X_unlabeled", self.n_jobs)
        )
        if self.n_clusters > len(graphs) + len(extra):
            raise ValueError(
                f"n_clusters={self.n_clusters} exceeds the {len(graphs) + len(extra)} "
                "networks to cluster."
            )
        self.y_mean_ = float(y.mean())
        self.y_scale_ = float(y.std()) or 1.0
        target = torch.tensor((y - self.y_mean_) / self.y_scale_, dtype=torch.float32)
        rng = check_random_state(self.random_state)
        seed = check_seed(rng)
        self.history_ = {"cl_loss": [], "train_loss": [], "val_loss": []}
        with torch_seeded(seed, self._device):
            self.module_ = GraphRegressor(self.n_clusters, self.width, self.n_layers)
            self.encoder_frozen_ = self.cl_epochs > 0
            self.cluster_centers_ = None
            if self.encoder_frozen_:
                self._pretrain(graphs + extra, rng)
                if self.n_clusters > 1:
                    Z = self._embed(graphs + extra).numpy()
                    self.cluster_centers_, _ = fuzzy_cmeans(
                        Z, self.n_clusters, self.fuzzifier, random_state=rng
                    )
            n_val = min(
                int(round(self.validation_fraction * len(graphs))), len(graphs) - 1
            )
            order = rng.permutation(len(graphs))
            val, train = order[:n_val], order[n_val:]
            self._train_regression(
                graphs,
                target,
                train,
                val,
                self.epochs,
                self.lr,
                self.batch_size,
                rng,
                "regression",
                train_encoder=not self.encoder_frozen_,
            )
        self.module_.cpu()
        return self

    def _pretrain(self, graphs, rng):
        model = self.module_.to(self._device).train()
        params = [*model.encoder.parameters(), *model.projection.parameters()]
        opt = torch.optim.Adam(params, lr=self.cl_lr)
        for _ in trange(self.cl_epochs, desc="contrastive", disable=not self.verbose):
            total = 0.0
            for idx, batch in self._batches(
                graphs, self.batch_size, rng.permutation(len(graphs))
            ):
                if len(idx) < 2:
                    continue
                views = [
                    augment_view(batch, self.cl_mask_rate, self.cl_edge_drop)
                    for _ in range(2)
                ]
                z1, z2 = (model.projection(model.encoder(v)) for v in views)
                loss = nt_xent(z1, z2, self.cl_temperature)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
            self.history_["cl_loss"].append(total / len(graphs))

    def _train_regression(
        self, graphs, target, train, val, epochs, lr, batch_size, rng, desc,
        train_encoder,
    ):  # fmt: skip
        """Train the heads (and the encoder with ``train_encoder``); keep the state
        of the epoch with the lowest validation loss when there is a validation set."""
        model = self.module_.to(self._device)
        # memberships come from the embeddings before this stage (fixed during it)
        Z = self._embed(graphs).to(self._device)
        U = torch.tensor(
            self._memberships(Z.cpu().numpy()), dtype=torch.float32, device=self._device
        )
        params = list(model.heads.parameters())
        if train_encoder:
            params += list(model.encoder.parameters())
        target = target.to(self._device)
        opt = torch.optim.Adam(params, lr=lr)

        def predict_rows(idx, batch=None):
            if not train_encoder:
                return model.heads(Z[idx], U[idx])
            return model(batch, U[idx])

        def run_rows(rows, batch_size, order, train_mode):
            model.train(train_mode)
            total = 0.0
            if not train_encoder:
                chunks = (
                    (order[s : s + batch_size], None)
                    for s in range(0, len(order), batch_size)
                )
            else:
                chunks = self._batches(graphs, batch_size, order)
            for idx, batch in chunks:
                idx_t = torch.as_tensor(idx, device=self._device)
                with torch.set_grad_enabled(train_mode):
                    loss = F.mse_loss(predict_rows(idx_t, batch), target[idx_t])
                if train_mode:
                    opt.zero_grad()
                    loss.backward()
                    nn.utils.clip_grad_norm_(params, 5.0)
                    opt.step()
                total += loss.item() * len(idx)
            return total / max(len(rows), 1)

        keeper = BestState(model)
        for _ in trange(epochs, desc=desc, disable=not self.verbose):
            self.history_["train_loss"].append(
                run_rows(train, batch_size, rng.permutation(train), True)
            )
            if len(val):
                val_loss = run_rows(val, 256, val, False)
                self.history_["val_loss"].append(val_loss)
                keeper.update(val_loss)
        keeper.restore()
        model.eval()

    # --------------------------------------------------------------- predict
    def transform(self, X):
        """Encoder embeddings of the networks.

        Parameters
        ----------
        X : list of torch.nn.Module or torch_geometric.data.Data

        Returns
        -------
        Z : ndarray of shape (n_networks, width)
        """
        graphs = self._check_fitted_graphs(X)
        Z = self._embed(graphs).numpy()
        self.module_.cpu()
        return Z

    def predict_membership(self, X):
        """Fuzzy memberships against the fitted cluster centres.

        Parameters
        ----------
        X : list of torch.nn.Module or torch_geometric.data.Data

        Returns
        -------
        U : ndarray of shape (n_networks, n_clusters)
            Rows sum to 1 (one-hot with ``membership="hard"``).
        """
        return self._memberships(self.transform(X))

    def predict(self, X):
        """Predicted performance, in the units of the training targets.

        Parameters
        ----------
        X : list of torch.nn.Module or torch_geometric.data.Data

        Returns
        -------
        y_pred : ndarray of shape (n_networks,)
        """
        graphs = self._check_fitted_graphs(X)
        Z = self._embed(graphs)
        U = torch.tensor(self._memberships(Z.numpy()), dtype=torch.float32)
        heads = self.module_.heads.to(self._device).eval()
        with torch.no_grad():
            out = heads(Z.to(self._device), U.to(self._device)).cpu().numpy()
        self.module_.cpu()
        return out.astype(np.float64) * self.y_scale_ + self.y_mean_

    def fine_tune(self, X, y, train_encoder=False):
        """Return a copy fine-tuned on a few labelled networks of a new family.

        The copy's heads (and its encoder with ``train_encoder=True``) train for
        ``finetune_epochs`` epochs at ``finetune_batch_size`` with Adam at
        ``finetune_lr``. Cluster centres and target scaling stay those of the
        original fit. This estimator is not modified.

        Parameters
        ----------
        X : list of torch.nn.Module or torch_geometric.data.Data
        y : array-like of shape (n_networks,)
        train_encoder : bool, default=False
            Also update the encoder (by default only the heads adapt, for every
            variant, so ablations fine-tune the same parameters).

        Returns
        -------
        model : GENNAPERegressor
            A new fitted estimator.
        """
        graphs = self._check_fitted_graphs(X)
        y = check_targets(y, len(graphs))
        tuned = copy.deepcopy(self)
        tuned._device = self._device
        target = torch.tensor((y - self.y_mean_) / self.y_scale_, dtype=torch.float32)
        rng = check_random_state(self.random_state)
        with torch_seeded(check_seed(rng), self._device):
            tuned._train_regression(
                graphs,
                target,
                np.arange(len(graphs)),
                [],
                self.finetune_epochs,
                self.finetune_lr,
                self.finetune_batch_size,
                rng,
                "fine-tune",
                train_encoder=train_encoder,
            )
        tuned.module_.cpu()
        return tuned
