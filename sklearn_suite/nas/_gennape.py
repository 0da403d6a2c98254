"""GENNAPERegressor: contrastive CG encoder, fuzzy c-means, membership-weighted
heads."""

import copy
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from skorch.dataset import Dataset

from sklearn_suite.base import (
    COMMON_CONSTRAINTS,
    FRACTION,
    N_JOBS,
    NON_NEGATIVE_INT,
    POSITIVE,
    POSITIVE_INT,
    PROBABILITY,
    ItemDataset,
    TorchEstimatorMixin,
    check_device,
    check_seed,
    fit_method,
    torch_seeded,
)
from sklearn_suite.nas._fcm import fcm_memberships, fuzzy_cmeans
from sklearn_suite.nas._modules import GraphRegressor
from sklearn_suite.nas._training import (
    RANK_LOSSES,
    ContrastiveViews,
    GraphCollate,
    GraphFeatureMixin,
    GraphInputMixin,
    NTXentLoss,
    RegressionLoss,
    check_graphs,
    check_groups,
    check_targets,
    graph_batches,
    group_balanced_weights,
    split_validation,
    train_stage,
)


class GENNAPERegressor(
    GraphFeatureMixin,
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
    graph_features : {"family", "global", "none"}, default="family"
        Join graph-level features (:data:`sklearn_suite.nas.GRAPH_FEATURES`: log
        FLOPs, log parameters, weighted depth, log width) to the embedding every
        head reads. ``"family"`` standardises them within each family -- the
        ``groups`` of :meth:`fit` and :meth:`predict`; without groups the networks
        of one call form one family -- so a head reads "more FLOPs than its
        siblings", which transfers to unseen families, where absolute values mix
        resolution and family; a prediction then depends on the other networks
        of its family in the same call (a lone network gets the family mean).
        ``"global"`` standardises with the training networks' statistics;
        ``"none"`` is GENNAPE's heads on the embedding alone.
    loss : {"mse", "pairwise", "listwise"}, default="mse"
        Regression loss on the standardised targets: MSE, or MSE plus a ranking
        term over each batch -- RankNet's pairwise cross-entropy (GENNAPE's
        pairwise variant) or ListNet's listwise one. The ranking term needs
        batches of two or more, so fine-tuning at batch size 1 is MSE alone.
    cl_max_epochs : int, default=50
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
    max_epochs : int, default=100
        Regression epochs.
    lr : float, default=1e-3
        Adam learning rate of the regression stage.
    batch_size : int, default=32
        Graphs per batch (both stages).
    validation_fraction : float, default=0.1
        Share of the labelled networks held out to pick the best regression epoch
        (0 keeps the last epoch). With ``groups`` of three or more families in
        :meth:`fit`, whole families are held out instead (this share of the
        families, at least one), so the epoch kept is the one that transfers best
        to a family the heads did not see.
    finetune_max_epochs : int, default=100
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
    callbacks : list of skorch callbacks, default=None
        Extra callbacks of every training stage's net (they see every epoch).
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
    features_mean_, features_scale_ : ndarray of shape (4,) or None
        Standardisation of the graph-level features (None without them).
    encoder_frozen_ : bool
        True when the encoder was trained contrastively and frozen for the heads.
    history_ : dict of str to skorch.History
        Per stage: ``"contrastive"`` (when ``cl_max_epochs > 0``), ``"regression"``
        (``train_loss``, and ``valid_loss`` with a validation split), and
        ``"fine_tune"`` on copies made by :meth:`fine_tune`.

    Examples
    --------
    >>> from torch import nn
    >>> from sklearn_suite import GENNAPERegressor
    >>> nets = [nn.Sequential(nn.Conv2d(1, c, k, padding=k // 2), nn.ReLU(),
    ...                       nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10))
    ...         for c in (4, 8, 16) for k in (1, 3, 5)]
    >>> y = [60 + 2 * i for i in range(9)]
    >>> model = GENNAPERegressor(n_clusters=2, cl_max_epochs=2, max_epochs=2,
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
        *,
        n_clusters=4,
        fuzzifier=2.0,
        membership="soft",
        graph_features="family",
        loss="mse",
        cl_max_epochs=50,
        cl_temperature=0.1,
        cl_lr=1e-3,
        cl_mask_rate=0.15,
        cl_edge_drop=0.1,
        max_epochs=100,
        lr=1e-3,
        batch_size=32,
        validation_fraction=0.1,
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
        self.n_clusters = n_clusters
        self.fuzzifier = fuzzifier
        self.membership = membership
        self.graph_features = graph_features
        self.loss = loss
        self.cl_max_epochs = cl_max_epochs
        self.cl_temperature = cl_temperature
        self.cl_lr = cl_lr
        self.cl_mask_rate = cl_mask_rate
        self.cl_edge_drop = cl_edge_drop
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
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
        "n_clusters": [POSITIVE_INT],
        "fuzzifier": [Interval(Real, 1, np.inf, closed="neither")],
        "membership": [StrOptions({"soft", "hard"})],
        "graph_features": [StrOptions({"family", "global", "none"})],
        "loss": [StrOptions({"mse", *RANK_LOSSES})],
        "cl_max_epochs": [NON_NEGATIVE_INT],
        "cl_temperature": [POSITIVE],
        "cl_lr": [POSITIVE],
        "cl_mask_rate": [PROBABILITY],
        "cl_edge_drop": [PROBABILITY],
        "max_epochs": [POSITIVE_INT],
        "lr": [POSITIVE],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "validation_fraction": [FRACTION],
        "finetune_max_epochs": [NON_NEGATIVE_INT],
        "finetune_lr": [POSITIVE],
        "finetune_batch_size": [POSITIVE_INT],
        "width": [Interval(Integral, 24, None, closed="left")],
        "n_layers": [POSITIVE_INT],
        "input_shape": [tuple, list],
        "n_jobs": N_JOBS,
        **COMMON_CONSTRAINTS,
    }

    def _check_params(self):
        """What the declared constraints cannot say; returns the device."""
        if self.cl_max_epochs == 0 and self.n_clusters > 1:
            raise ValueError(
                "n_clusters > 1 needs a contrastively trained encoder to cluster "
                "(cl_max_epochs > 0); cl_max_epochs=0 is the plain k-GNN with "
                "n_clusters=1."
            )
        return check_device(self.device)

    def _rebuild_modules(self):
        """For :meth:`load`: the predictor's network, weights to be loaded."""
        self.module_ = self._new_module()

    def _new_module(self):
        return GraphRegressor(
            self.n_clusters, self.width, self.n_layers, self._n_features()
        )

    # -------------------------------------------------------------- embedding
    def _embed(self, graphs, device):
        encoder = self.module_.encoder.to(device).eval()
        with torch.no_grad():
            out = [encoder(batch).cpu() for batch in graph_batches(graphs, device)]
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
    @fit_method
    def fit(self, X, y, X_unlabeled=None, groups=None, proxies=None):
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
        groups : array-like of shape (n_networks,), default=None
            Family label of every labelled network. Graph features are then
            standardised per family (``graph_features="family"``), every
            family weighs the same in the regression loss (rows are drawn in
            inverse proportion to their family's size), so a large family does
            not drown the others, and with three or more families the
            validation split holds out whole families.
        proxies : array-like of shape (n_networks, n_proxies), default=None
            Zero-cost proxy scores (e.g. synflow, jacov) or any other numbers
            per network, joined to the graph features and scaled the same way;
            a model fitted with proxies needs them at every later call.

        Returns
        -------
        self : GENNAPERegressor
        """
        device = self._check_params()
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
        groups = None if groups is None else check_groups(groups, len(graphs))
        proxies = self._check_proxies(proxies, len(graphs), fitting=True)
        self._fit_feature_scaling(graphs, proxies)
        target = ((y - self.y_mean_) / self.y_scale_).astype(np.float32)
        rng = check_random_state(self.random_state)
        seed = check_seed(rng)
        self.history_ = {}
        with torch_seeded(seed, device):
            self.module_ = self._new_module()
            self.encoder_frozen_ = self.cl_max_epochs > 0
            self.cluster_centers_ = None
            if self.encoder_frozen_:
                self._pretrain(graphs + extra, seed, device)
                if self.n_clusters > 1:
                    Z = self._embed(graphs + extra, device).numpy()
                    self.cluster_centers_, _ = fuzzy_cmeans(
                        Z, self.n_clusters, self.fuzzifier, random_state=rng
                    )
            val, train = split_validation(
                len(graphs), self.validation_fraction, rng, groups
            )
            self._train_regression(
                graphs, target, train, val, self.max_epochs, self.lr, self.batch_size,
                seed, device, "regression", train_encoder=not self.encoder_frozen_,
                groups=groups, proxies=proxies,
            )  # fmt: skip
        self.module_.cpu()
        return self

    def _pretrain(self, graphs, seed, device):
        model = self.module_
        net = train_stage(
            ContrastiveViews(
                model.encoder, model.projection, self.cl_mask_rate, self.cl_edge_drop
            ),
            ItemDataset(graphs),
            stage="contrastive",
            seed=seed,
            device=device,
            lr=self.cl_lr,
            max_epochs=self.cl_max_epochs,
            batch_size=self.batch_size,
            collate=GraphCollate(),
            criterion=NTXentLoss(self.cl_temperature),
            # a batch of one graph has no negative
            drop_last=len(graphs) % self.batch_size == 1,
            grad_clip=None,
            callbacks=self.callbacks,
            verbose=self.verbose,
        )
        self.history_["contrastive"] = net.history

    def _train_regression(self, graphs, target, train, val, epochs, lr, batch_size,
                          seed, device, stage, train_encoder,
                          groups=None, proxies=None):  # fmt: skip
        """Train the heads (and the encoder with ``train_encoder``); keep the state
        of the epoch with the lowest validation loss when there is a validation
        set. Memberships come from the embeddings before this stage (fixed);
        with ``groups``, families weigh the same."""
        Z = self._embed(graphs, device).numpy()
        U = self._memberships(Z).astype(np.float32)
        extra = {"membership": U}
        features = self._scaled_features(graphs, groups, proxies)
        if features is not None:
            extra["features"] = features
        if train_encoder:  # the whole predictor, on graph batches

            def rows(idx):
                return ItemDataset(
                    [(graphs[i], *(v[i] for v in extra.values())) for i in idx],
                    target[idx],
                )

            module, collate = self.module_, GraphCollate(extra=tuple(extra))
        else:  # the heads alone, on the frozen encoder's embeddings

            def rows(idx):
                return Dataset(
                    {"z": Z[idx], **{k: v[idx] for k, v in extra.items()}},
                    target[idx],
                )

            module, collate = self.module_.heads, None
        net = train_stage(
            module,
            rows(train),
            stage=stage,
            seed=seed,
            device=device,
            lr=lr,
            max_epochs=epochs,
            batch_size=batch_size,
            valid=rows(val) if len(val) else None,
            collate=collate,
            criterion=RegressionLoss(self.loss),
            sample_weight=None
            if groups is None
            else group_balanced_weights(groups[train]),
            callbacks=self.callbacks,
            verbose=self.verbose,
        )
        self.history_[stage] = net.history
        self.module_.eval()

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
        Z = self._embed(graphs, check_device(self.device)).numpy()
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

    def predict(self, X, groups=None, proxies=None):
        """Predicted performance, in the units of the training targets.

        Parameters
        ----------
        X : list of torch.nn.Module or torch_geometric.data.Data
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
        proxies = self._check_proxies(proxies, len(graphs))
        device = check_device(self.device)
        Z = self._embed(graphs, device)
        U = torch.tensor(self._memberships(Z.numpy()), dtype=torch.float32)
        features = self._scaled_features(graphs, groups, proxies)
        if features is not None:
            features = torch.from_numpy(features).to(device)
        heads = self.module_.heads.to(device).eval()
        with torch.no_grad():
            out = heads(Z.to(device), U.to(device), features).cpu().numpy()
        self.module_.cpu()
        return out.astype(np.float64) * self.y_scale_ + self.y_mean_

    def fine_tune(self, X, y, train_encoder=False, restandardise=False,
                  proxies=None):  # fmt: skip
        """Return a copy fine-tuned on a few labelled networks of a new family.

        The copy's heads (and its encoder with ``train_encoder=True``) train for
        ``finetune_max_epochs`` epochs at ``finetune_batch_size`` with Adam at
        ``finetune_lr``. Cluster centres and target scaling stay those of the
        original fit. This estimator is not modified.

        Parameters
        ----------
        X : list of torch.nn.Module or torch_geometric.data.Data
        y : array-like of shape (n_networks,)
        train_encoder : bool, default=False
            Also update the encoder (by default only the heads adapt, for every
            variant, so ablations fine-tune the same parameters).
        restandardise : bool, default=False
            Take the target mean and spread from ``y`` instead of the original
            fit (as AIO-P's ``stand`` from the fine-tuning samples): for a model
            pretrained on standardised accuracies, such as
            :func:`~sklearn_suite.nas.pretrained_gennape`.
        proxies : array-like of shape (n_networks, n_proxies), default=None
            The proxies of these networks, if the model was fitted with them.

        Returns
        -------
        model : GENNAPERegressor
            A new fitted estimator.
        """
        graphs = self._check_fitted_graphs(X)
        y = check_targets(y, len(graphs))
        proxies = self._check_proxies(proxies, len(graphs))
        device = check_device(self.device)
        tuned = copy.deepcopy(self)
        tuned.history_ = dict(self.history_)
        if restandardise:
            tuned.y_mean_, tuned.y_scale_ = float(y.mean()), float(y.std()) or 1.0
        target = ((y - tuned.y_mean_) / tuned.y_scale_).astype(np.float32)
        seed = check_seed(self.random_state)
        with torch_seeded(seed, device):
            tuned._train_regression(
                graphs, target, np.arange(len(graphs)), [], self.finetune_max_epochs,
                self.finetune_lr, self.finetune_batch_size, seed, device,
                "fine_tune", train_encoder=train_encoder, proxies=proxies,
            )  # fmt: skip
        tuned.module_.cpu()
        return tuned
