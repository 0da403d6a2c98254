"""AIOPRegressor: a CG performance predictor pretrained on one task, infused with
other tasks' knowledge through K-Adapters, transferred to unseen tasks."""

import copy
from numbers import Integral

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from torch import nn

from sklearn_suite.base import (
    COMMON_CONSTRAINTS,
    FRACTION,
    N_JOBS,
    NON_NEGATIVE_INT,
    POSITIVE,
    POSITIVE_INT,
    ItemDataset,
    TorchEstimatorMixin,
    atomic,
    check_device,
    check_seed,
    fit_method,
    torch_seeded,
)
from sklearn_suite.nas._graph import graph_flops
from sklearn_suite.nas._modules import AdaptedRegressor
from sklearn_suite.nas._training import (
    GraphCollate,
    GraphFeatureMixin,
    GraphInputMixin,
    check_graphs,
    check_groups,
    check_targets,
    graph_batches,
    group_balanced_weights,
    split_validation,
    train_stage,
)

TARGET_TRANSFORMS = ("none", "stand", "stand_flops")
# AIO-P's ft_adapter 0..3
FINETUNE_MODES = ("heads", "heads+base", "heads+base+adapters", "heads+adapters")
PREDICT_BATCH = 256


def flops_factor(flops, unit=1e9):
    """AIO-P's FLOPs divisor ``log10(flops / unit + 1) + 1`` (``unit=1e9``: GFLOPs)."""
    return np.log10(np.asarray(flops, dtype=np.float64) / unit + 1) + 1


class AdapterView(nn.Module):
    """The predictor as one training stage sees it: through one adapter (or the
    base alone), with only ``trainable`` parameters receiving gradients."""

    def __init__(self, model, adapter=None):
        super().__init__()
        self.model = model
        self.adapter = adapter

    def forward(self, data, features=None):
        return self.model(data, self.adapter, features)


class TargetScaler:
    """AIO-P's label normalisation: none, standardisation, or standardisation of
    ``y / flops_factor``; statistics from the samples given to :meth:`fit` only."""

    def __init__(self, kind, flops_unit=1e9):
        self.kind = kind
        self.flops_unit = flops_unit

    def _divide(self, y, flops):
        if self.kind == "stand_flops":
            return y / flops_factor(flops, self.flops_unit)
        return y

    def fit(self, y, flops):
        z = self._divide(y, flops)
        if self.kind == "none":
            self.mean_, self.scale_ = 0.0, 1.0
        else:
            self.mean_, self.scale_ = float(z.mean()), float(z.std()) or 1.0
        return self

    def transform(self, y, flops):
        return (self._divide(y, flops) - self.mean_) / self.scale_

    def inverse_transform(self, z, flops):
        y = z * self.scale_ + self.mean_
        if self.kind == "stand_flops":
            y = y * flops_factor(flops, self.flops_unit)
        return y


class AIOPRegressor(
    GraphFeatureMixin,
    GraphInputMixin,
    TorchEstimatorMixin,
    TransformerMixin,
    RegressorMixin,
    BaseEstimator,
):
    """AIO-P: an all-in-one performance predictor that transfers across tasks.

    A computation-graph regressor (GENNAPE's node embedding, GraphConv layers with
    tanh, mean readout, ``post_proj`` head) is pretrained on one task's labels
    (:meth:`fit`). :meth:`infuse` then freezes it and adds one K-Adapter per further
    task: a parallel GNN of the same depth whose layer ``i`` reads the base's layer
    ``i`` node states, with its own head on the base and adapter graph embeddings,
    trained on that task's labels (in AIO-P cheap pseudo-labels from a shared head).
    With adapters, predictions are the mean over adapters. :meth:`fine_tune`
    returns a copy adapted to a downstream task from a few labelled networks, whose
    target statistics are taken from those samples only. Targets are scaled
    (``target_transform``) and predictions come back in the task's own units.

    Parameters
    ----------
    target_transform : {"none", "stand", "stand_flops"}, default="stand_flops"
        ``"stand"`` standardises targets; ``"stand_flops"`` standardises
        ``y / (log10(flops / flops_unit + 1) + 1)``; ``"none"`` trains on raw
        values.
    flops_unit : float, default=1e9
        FLOPs unit of ``"stand_flops"`` (1e9: GFLOPs, as AIO-P). For networks of a
        few MFLOPs the factor is ~1 and ``"stand_flops"`` is ``"stand"``; 1e6 keeps
        the FLOPs term informative at that scale.
    graph_features : {"family", "global", "none"}, default="family"
        Join graph-level features (:data:`sklearn_suite.nas.GRAPH_FEATURES`: log
        FLOPs, log parameters, weighted depth, log width) to the graph embeddings
        every head reads (the base head and each adapter's head), as in
        :class:`~sklearn_suite.GENNAPERegressor`: ``"family"`` standardises them
        within each family (the ``groups`` of every call; without groups the
        networks of one call form one family), ``"global"`` with the pretraining
        networks' statistics; ``"none"`` is AIO-P's heads on the embeddings alone.
    max_epochs : int, default=40
        Pretraining epochs of the base.
    adapter_max_epochs : int, default=40
        Training epochs of each K-Adapter in :meth:`infuse`.
    lr : float, default=1e-3
        Adam learning rate of pretraining and infusion.
    batch_size : int, default=32
        Graphs per batch in pretraining and infusion.
    validation_fraction : float, default=0.1
        Share held out to pick the best epoch in pretraining and infusion (0 keeps
        the last epoch). With ``groups`` of three or more families, whole
        families are held out.
    finetune_mode : {"heads", "heads+base", "heads+base+adapters", \
            "heads+adapters"}, default="heads"
        Parameters :meth:`fine_tune` trains (AIO-P's ``ft_adapter`` 0-3): the
        regression heads (the adapters' heads, or the base head without adapters),
        plus the base GNN layers and/or the adapter GNN layers.
    finetune_max_epochs : int, default=100
        Epochs of :meth:`fine_tune`.
    finetune_lr : float, default=1e-4
        Adam learning rate of :meth:`fine_tune`.
    finetune_batch_size : int, default=1
        Batch size of :meth:`fine_tune`.
    width : int, default=32
        Node embedding and hidden width.
    n_layers : int, default=6
        GraphConv layers of the base and of each adapter.
    input_shape : tuple of int, default=(1, 8, 8)
        ``(C, H, W)`` used to trace modules given in ``X``.
    callbacks : list of skorch callbacks, default=None
        Extra callbacks of every training stage's net (they see every epoch).
    device : str, default="cpu"
        Torch device for training and inference.
    n_jobs : int, default=None
        Processes that trace modules given in ``X`` (joblib; None is 1).
    random_state : int, RandomState instance or None, default=None
        Seeds splits, initialisation and batch order.
    verbose : int, default=0
        1 shows a progress bar per stage.

    Attributes
    ----------
    module_ : AdaptedRegressor
        Base encoder and head plus the adapters (on CPU).
    tasks_ : list of str
        The infused tasks, one adapter each, in order.
    task_ : str
        The task whose units :meth:`predict` returns: ``"pretrain"`` after
        :meth:`fit`, the last infused task, or ``"fine-tuned"``.
    target_mean_, target_scale_ : float
        Statistics of the scaled targets of ``task_`` (from its own samples).
    history_ : dict of str to skorch.History
        Per stage: ``"pretrain"``, ``"infuse:<task>"`` for every adapter, and
        ``"fine_tune"`` on copies made by :meth:`fine_tune`.

    Examples
    --------
    >>> from torch import nn
    >>> from sklearn_suite import AIOPRegressor
    >>> nets = [nn.Sequential(nn.Conv2d(1, c, k, padding=k // 2), nn.ReLU(),
    ...                       nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10))
    ...         for c in (4, 8, 16) for k in (1, 3, 5)]
    >>> accuracy = [60 + 2 * i for i in range(9)]
    >>> seg_pseudo = [40 + i for i in range(9)]
    >>> model = AIOPRegressor(max_epochs=2, adapter_max_epochs=2, random_state=0)
    >>> model = model.fit(nets, accuracy).infuse(nets, seg_pseudo, task="seg")
    >>> tuned = model.fine_tune(nets[:4], [70, 71, 73, 72])
    >>> tuned.predict(nets).shape, model.tasks_
    ((9,), ['seg'])

    References
    ----------
    .. [1] K. G. Mills et al., "AIO-P: Expanding Neural Performance Predictors
       Beyond Image Classification", AAAI 2023, arXiv:2211.17228.
    """

    def __init__(
        self,
        *,
        target_transform="stand_flops",
        flops_unit=1e9,
        graph_features="family",
        max_epochs=40,
        adapter_max_epochs=40,
        lr=1e-3,
        batch_size=32,
        validation_fraction=0.1,
        finetune_mode="heads",
        finetune_max_epochs=100,
        finetune_lr=1e-4,
        finetune_batch_size=1,
        width=32,
        n_layers=6,
        input_shape=(1, 8, 8),
        callbacks=None,
        device="cpu",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.target_transform = target_transform
        self.flops_unit = flops_unit
        self.graph_features = graph_features
        self.max_epochs = max_epochs
        self.adapter_max_epochs = adapter_max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.finetune_mode = finetune_mode
        self.finetune_max_epochs = finetune_max_epochs
        self.finetune_lr = finetune_lr
        self.finetune_batch_size = finetune_batch_size
        self.width = width
        self.n_layers = n_layers
        self.input_shape = input_shape
        self.callbacks = callbacks
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ checks
    _parameter_constraints: dict = {
        "target_transform": [StrOptions(set(TARGET_TRANSFORMS))],
        "flops_unit": [POSITIVE],
        "graph_features": [StrOptions({"family", "global", "none"})],
        "max_epochs": [POSITIVE_INT],
        "adapter_max_epochs": [POSITIVE_INT],
        "lr": [POSITIVE],
        "batch_size": [POSITIVE_INT],
        "validation_fraction": [FRACTION],
        "finetune_mode": [StrOptions(set(FINETUNE_MODES))],
        "finetune_max_epochs": [NON_NEGATIVE_INT],
        "finetune_lr": [POSITIVE],
        "finetune_batch_size": [POSITIVE_INT],
        "width": [Interval(Integral, 24, None, closed="left")],
        "n_layers": [POSITIVE_INT],
        "input_shape": [tuple, list],
        "n_jobs": N_JOBS,
        **COMMON_CONSTRAINTS,
    }

    def _rebuild_modules(self):
        """For :meth:`load`: the base and one adapter per task, weights to be
        loaded."""
        self.module_ = self._new_module()
        for _ in self.tasks_:
            self.module_.add_adapter()

    def _new_module(self):
        return AdaptedRegressor(self.width, self.n_layers, self._n_features())

    def _labelled(self, X, y, flops, groups, proxies, fitting=False):
        graphs = check_graphs(X, self.input_shape, "X", self.n_jobs)
        y = check_targets(y, len(graphs))
        groups = None if groups is None else check_groups(groups, len(graphs))
        proxies = self._check_proxies(proxies, len(graphs), fitting)
        return graphs, y, self._flops(graphs, flops), groups, proxies

    def _flops(self, graphs, flops):
        if flops is None:
            return np.array([graph_flops(g) for g in graphs])
        flops = np.asarray(flops, dtype=np.float64)
        if flops.shape != (len(graphs),) or not np.all(np.isfinite(flops)):
            raise ValueError(
                f"flops must hold one finite value per network ({len(graphs)}); got "
                f"shape {flops.shape}."
            )
        if np.any(flops < 0):
            raise ValueError("flops must be non-negative.")
        return flops

    def _set_task(self, task, y, flops):
        self.scaler_ = TargetScaler(self.target_transform, self.flops_unit).fit(
            y, flops
        )
        self.task_ = task
        self.target_mean_, self.target_scale_ = self.scaler_.mean_, self.scaler_.scale_
        return torch.tensor(self.scaler_.transform(y, flops), dtype=torch.float32)

    # ---------------------------------------------------------------- training
    def _train(self, graphs, target, params, epochs, lr, batch_size, val_fraction,
               seed, stage, adapter=None, groups=None, proxies=None):  # fmt: skip
        """Adam on ``params`` only (everything else stays as it is); keep the epoch
        with the lowest validation loss when there is a validation split; with
        ``groups``, families weigh the same."""
        device = check_device(self.device)
        model = self.module_
        rng = np.random.RandomState(seed)
        val, train = split_validation(len(graphs), val_fraction, rng, groups)
        target = np.asarray(target, dtype=np.float32)
        features = self._scaled_features(graphs, groups, proxies)

        def rows(idx):
            if features is None:
                return ItemDataset([graphs[i] for i in idx], target[idx])
            return ItemDataset([(graphs[i], features[i]) for i in idx], target[idx])

        # everything outside ``params`` is frozen (no gradients at all)
        trainable = {id(p) for p in params}
        for p in model.parameters():
            p.requires_grad_(id(p) in trainable)
        try:
            net = train_stage(
                AdapterView(model, adapter),
                rows(train),
                stage=stage,
                seed=seed,
                device=device,
                lr=lr,
                max_epochs=epochs,
                batch_size=batch_size,
                valid=rows(val) if len(val) else None,
                collate=GraphCollate(extra=() if features is None else ("features",)),
                sample_weight=None
                if groups is None
                else group_balanced_weights(groups[train]),
                callbacks=self.callbacks,
                verbose=self.verbose,
            )
        finally:
            for p in model.parameters():
                p.requires_grad_(True)
        self.history_[stage] = net.history
        model.eval().cpu()

    @fit_method
    def fit(self, X, y, flops=None, groups=None, proxies=None):
        """Pretrain the base predictor on one task (classification accuracy).

        Parameters
        ----------
        X : list of torch.nn.Module or torch_geometric.data.Data
            Networks (or their computation graphs).
        y : array-like of shape (n_networks,)
            Their performance on the pretraining task.
        flops : array-like of shape (n_networks,), default=None
            FLOPs for ``"stand_flops"``; None counts them on the graphs
            (:func:`sklearn_suite.nas.graph_flops`).
        groups : array-like of shape (n_networks,), default=None
            Family label of every network: graph features are standardised per
            family (``graph_features="family"``), every family weighs the same
            in the loss, and with three or more families the validation split
            holds out whole families.
        proxies : array-like of shape (n_networks, n_proxies), default=None
            Zero-cost proxy scores (e.g. synflow, jacov) or any other numbers
            per network, joined to the graph features and scaled the same way;
            a model fitted with proxies needs them at every later call.

        Returns
        -------
        self : AIOPRegressor
        """
        device = check_device(self.device)
        graphs, y, flops, groups, proxies = self._labelled(
            X, y, flops, groups, proxies, fitting=True
        )
        if len(graphs) < 2:
            raise ValueError("fit needs at least 2 labelled networks.")
        self._seed = check_seed(check_random_state(self.random_state))
        self.tasks_ = []
        self.history_ = {}
        self._fit_feature_scaling(graphs, proxies)
        target = self._set_task("pretrain", y, flops)
        with torch_seeded(self._seed, device):
            self.module_ = self._new_module()
            params = [
                *self.module_.encoder.parameters(),
                *self.module_.head.parameters(),
            ]
            self._train(
                graphs, target, params, self.max_epochs, self.lr, self.batch_size,
                self.validation_fraction, self._seed, "pretrain", groups=groups,
                proxies=proxies,
            )  # fmt: skip
        return self

    @atomic
    def infuse(self, X, y, task, flops=None, groups=None, proxies=None):
        """Add one K-Adapter trained on another task's labels; the base is frozen.

        The adapter (a GNN reading the base's per-layer node states, with its own
        head) is trained for ``adapter_max_epochs`` on ``y``, scaled with statistics of
        ``y`` itself. Afterwards :meth:`predict` averages every adapter's
        prediction and returns values in ``task``'s units.

        Parameters
        ----------
        X : list of torch.nn.Module or torch_geometric.data.Data
        y : array-like of shape (n_networks,)
            The task's labels, in AIO-P pseudo-labels from a shared head.
        task : str
            Name of the task (one adapter per task).
        flops : array-like of shape (n_networks,), default=None
        groups : array-like of shape (n_networks,), default=None
            Family labels, as in :meth:`fit`.
        proxies : array-like of shape (n_networks, n_proxies), default=None
            The proxies of these networks, if the model was fitted with them.

        Returns
        -------
        self : AIOPRegressor
        """
        check_is_fitted(self, "module_")
        device = check_device(self.device)
        if not isinstance(task, str) or not task:
            raise ValueError(f"task must be a non-empty str; got {task!r}.")
        if task in self.tasks_:
            raise ValueError(f"task {task!r} already has an adapter: {self.tasks_}.")
        graphs, y, flops, groups, proxies = self._labelled(X, y, flops, groups, proxies)
        seed = self._seed + len(self.tasks_) + 1
        # new objects, so a failed or interrupted infusion leaves the model as it was
        self.module_ = copy.deepcopy(self.module_)
        self.tasks_, self.history_ = list(self.tasks_), dict(self.history_)
        target = self._set_task(task, y, flops)
        with torch_seeded(seed, device):
            adapter = self.module_.add_adapter()
            self.tasks_.append(task)
            self._train(
                graphs, target, list(adapter.parameters()), self.adapter_max_epochs,
                self.lr, self.batch_size, self.validation_fraction, seed,
                f"infuse:{task}", adapter=len(self.tasks_) - 1, groups=groups,
                proxies=proxies,
            )  # fmt: skip
        return self

    def _finetune_params(self, mode):
        model = self.module_
        adapters = list(model.adapters)
        if adapters:
            params = [p for a in adapters for p in a.head.parameters()]
        else:
            params = list(model.head.parameters())
        if mode in ("heads+base", "heads+base+adapters"):
            params += list(model.encoder.convs.parameters())
        if mode in ("heads+base+adapters", "heads+adapters"):
            params += [p for a in adapters for p in a.convs.parameters()]
        return params

    def fine_tune(self, X, y, flops=None, mode=None, groups=None, proxies=None):
        """Return a copy fine-tuned on a few labelled networks of a downstream task.

        The copy's target statistics come from these samples only (AIO-P's k
        fine-tuning samples); then the parameters of ``mode`` train for
        ``finetune_max_epochs`` epochs (0 only recalibrates the statistics: the
        zero-shot predictor in the task's units). This estimator is not modified.

        Parameters
        ----------
        X : list of torch.nn.Module or torch_geometric.data.Data
        y : array-like of shape (n_networks,)
            Ground-truth performance on the downstream task.
        flops : array-like of shape (n_networks,), default=None
        mode : str, default=None
            One of ``FINETUNE_MODES``; None uses ``finetune_mode``.
        groups : array-like of shape (n_networks,), default=None
            Family labels (None: ``X`` is one family).
        proxies : array-like of shape (n_networks, n_proxies), default=None
            The proxies of these networks, if the model was fitted with them.

        Returns
        -------
        model : AIOPRegressor
            A new fitted estimator whose ``task_`` is ``"fine-tuned"``.
        """
        check_is_fitted(self, "module_")
        device = check_device(self.device)
        mode = self.finetune_mode if mode is None else mode
        if mode not in FINETUNE_MODES:
            raise ValueError(f"mode must be one of {FINETUNE_MODES}; got {mode!r}.")
        graphs, y, flops, groups, proxies = self._labelled(X, y, flops, groups, proxies)
        tuned = copy.deepcopy(self)
        tuned.history_ = dict(self.history_)
        target = tuned._set_task("fine-tuned", y, flops)
        if self.finetune_max_epochs:
            with torch_seeded(self._seed, device):
                tuned._train(
                    graphs, target, tuned._finetune_params(mode),
                    self.finetune_max_epochs, self.finetune_lr,
                    self.finetune_batch_size, 0.0, self._seed, "fine_tune",
                    groups=groups, proxies=proxies,
                )  # fmt: skip
        return tuned

    # --------------------------------------------------------------- predict
    def predict(self, X, flops=None, groups=None, proxies=None):
        """Predicted performance on ``task_``, in that task's units.

        Parameters
        ----------
        X : list of torch.nn.Module or torch_geometric.data.Data
        flops : array-like of shape (n_networks,), default=None
            Used by ``"stand_flops"``; None counts them on the graphs.
        groups : array-like of shape (n_networks,), default=None
            Family labels: with ``graph_features="family"``, features are
            standardised within each family of this call (None: ``X`` is one
            family).
        proxies : array-like of shape (n_networks, n_proxies), default=None
            The proxies of these networks, if the model was fitted with them.

        Returns
        -------
        y_pred : ndarray of shape (n_networks,)
        """
        graphs = self._check_fitted_graphs(X)
        flops = self._flops(graphs, flops)
        proxies = self._check_proxies(proxies, len(graphs))
        features = self._scaled_features(graphs, groups, proxies)
        device = check_device(self.device)
        model = self.module_.to(device).eval()
        z = []
        with torch.no_grad():
            for start, batch in zip(
                range(0, len(graphs), PREDICT_BATCH),
                graph_batches(graphs, device, PREDICT_BATCH),
            ):
                rows = None
                if features is not None:
                    rows = torch.from_numpy(features[start : start + PREDICT_BATCH])
                    rows = rows.to(device)
                z.append(model(batch, features=rows).cpu())
        z = torch.cat(z)
        model.cpu()
        return self.scaler_.inverse_transform(z.numpy().astype(np.float64), flops)

    def transform(self, X):
        """Graph embeddings of the frozen base encoder.

        Parameters
        ----------
        X : list of torch.nn.Module or torch_geometric.data.Data

        Returns
        -------
        Z : ndarray of shape (n_networks, width)
        """
        graphs = self._check_fitted_graphs(X)
        device = check_device(self.device)
        encoder = self.module_.encoder.to(device).eval()
        with torch.no_grad():
            Z = torch.cat(
                [encoder(batch).cpu() for batch in graph_batches(graphs, device)]
            )
        self.module_.cpu()
        return Z.numpy()
