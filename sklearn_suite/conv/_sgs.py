"""SGSConvClassifier: a conv-net classifier trained with spatial gradient scaling."""

import inspect
import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNetClassifier
from skorch.callbacks import LRScheduler
from torch import nn

from sklearn_suite.base import (
    COMMON_CONSTRAINTS,
    NON_NEGATIVE,
    POSITIVE,
    POSITIVE_INT,
    PROBABILITY,
    TorchEstimatorMixin,
    check_device,
    check_images,
    check_seed,
    fit_method,
    fit_net,
    make_net,
    torch_seeded,
)
from sklearn_suite.conv._modules import SmallResNet, SmallVGG
from sklearn_suite.conv._scaling import SpatialGradientScaling

_BUILTIN_MODULES = {"vgg": SmallVGG, "resnet": SmallResNet}


class _AugmentingCollate:
    """Batches training items and augments them with a fitted augmenter, drawing
    fresh augmentations on every call (so every epoch sees new ones)."""

    def __init__(self, augmenter, classes, seed):
        self.augmenter = augmenter
        self.classes = classes
        self.rng = np.random.RandomState(seed)

    def __call__(self, items):
        X = np.stack([np.asarray(x) for x, _ in items])
        y = np.array([int(t) for _, t in items], dtype=np.int64)
        X = self.augmenter.augment(X, self.classes[y], random_state=self.rng)
        return torch.from_numpy(np.ascontiguousarray(X)), torch.from_numpy(y)


class SGSConvClassifier(TorchEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Conv-net image classifier trained with spatial gradient scaling (SGS).

    SGS multiplies the weight gradient of every KxK convolution (K > 1) by a KxK
    map S with mean 1, shared over channels, after ``backward`` and before the
    optimizer step. It is equivalent to training the conv as a sum of branches
    (e.g. 3x3 + 1x3 + 3x1) and merging them, without the branches' cost. With
    ``scaling="mi"``, S is re-estimated every ``update_every`` epochs from the
    normalised mutual information between neighbouring pixels of each conv's
    zero-padded input. The forward pass, the architecture and inference are
    unchanged; 1x1 convs and linear layers are never scaled.

    Parameters
    ----------
    module : {"vgg", "resnet"} or torch.nn.Module subclass, default="vgg"
        Built-in :class:`SmallVGG` / :class:`SmallResNet`, or your own module
        class (not an instance). It is built with ``in_channels`` and
        ``n_classes`` when its signature takes them, plus ``module_params``, and
        must return logits.
    widths : tuple of int, default=(16, 32)
        Channels per stage of the built-in modules.
    module_params : dict, default=None
        Extra keyword arguments for the module.
    scaling : {"mi", "branch"} or None, default="mi"
        ``"mi"``: the paper's mutual-information maps. ``"branch"``: the fixed map
        equivalent to training with ``branches``. None: plain training (baseline).
    k : float, default=5
        Strength of the saturating transform ``k x / ((k - 1) x + 1)`` of the NMI.
    update_every : int, default=5
        Epochs between re-estimations of S (``scaling="mi"``), starting at epoch 0.
    n_batches : int, default=2
        Training batches (of ``batch_size`` images) used for each estimation.
    diag_removal : bool, default=False
        Drop zero-valued pairs and the histogram diagonal in the NMI (the paper's
        ImageNet setting).
    branches : tuple, default=("square", "horizontal", "vertical")
        Branch structure for ``scaling="branch"`` (see
        :func:`branched_equivalent_scaling`).
    branch_alphas : tuple of float, default=None
        Branch coefficients for ``scaling="branch"``; ones when None.
    max_epochs : int, default=20
        Training epochs.
    batch_size : int, default=64
    lr : float, default=0.05
        Learning rate of SGD, annealed with a cosine schedule when
        ``lr_schedule="cosine"``.
    momentum : float, default=0.9
    weight_decay : float, default=5e-4
    lr_schedule : {"cosine"} or None, default="cosine"
    augmenter : estimator, default=None
        Training-time augmentation, e.g. a
        :class:`~sklearn_suite.LabelAwareAugmenter`: a clone is fitted on the
        training data first, then every training batch is augmented with its
        ``augment(X, y, random_state)`` afresh each epoch. Prediction never
        augments.
    image_shape : tuple of int, default=None
        ``(C, H, W)`` of the images when ``X`` is 2-D; one entry may be -1 and is
        inferred as in ``numpy.reshape`` (``(1, 1, -1)`` reads each row as a
        one-row image). None infers a square single-channel image.
    warm_start : bool, default=False
        When fitted already, ``fit`` continues training the fitted net for
        ``max_epochs`` more epochs (same classes and image shape) instead of
        starting anew.
    callbacks : list of skorch callbacks, default=None
        Extra callbacks of the training net (e.g. ``Checkpoint``); they see every
        epoch.
    device : str, default="cpu"
        ``"cpu"`` or ``"cuda"``. A model fitted on GPU loads on a CPU-only machine.
    verbose : int, default=0
        0 is silent; 1 shows a progress bar over epochs.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and the choice of estimation
        images. The caller's global RNG state is left untouched.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of input features, ``C * H * W``.
    image_shape_ : tuple of int
        ``(C, H, W)`` seen in ``fit``.
    net_ : skorch.NeuralNetClassifier
        The trained net.
    history_ : skorch.History
        Per-epoch training loss (``history_[:, "train_loss"]``).
    scalings_ : dict of str to ndarray
        The K x K map of every scaled conv at the end of training (empty for
        ``scaling=None``).
    scalings_history_ : list of dict
        One entry per (re-)estimation: ``{"epoch": int, "scalings": dict}``.
    augmenter_ : estimator
        The fitted augmenter (only when ``augmenter`` is given).

    See Also
    --------
    branched_equivalent_scaling : The map equivalent to a branch structure.
    nmi_dependence : The mutual-information dependence estimate.

    References
    ----------
    .. [1] Detkov, Salameh, Fetrat Qharabagh, Zhang, Lui, Jui and Niu,
       "Reparameterization through Spatial Gradient Scaling", ICLR 2023.

    Examples
    --------
    >>> from sklearn_suite import SGSConvClassifier
    >>> from sklearn_suite.datasets import load_digit_images
    >>> X, y = load_digit_images(return_X_y=True)
    >>> clf = SGSConvClassifier(max_epochs=2, widths=(8,), random_state=0)
    >>> clf.fit(X[:200], y[:200]).predict(X[200:203]).shape
    (3,)
    >>> sorted(clf.scalings_)
    ['features.0', 'features.3']
    """

    _parameter_constraints: dict = {
        "module": [StrOptions(set(_BUILTIN_MODULES)), type],
        "widths": [tuple, list],
        "module_params": [dict, None],
        "scaling": [StrOptions({"mi", "branch"}), None],
        "k": [POSITIVE],
        "update_every": [POSITIVE_INT],
        "n_batches": [POSITIVE_INT],
        "diag_removal": ["boolean"],
        "branches": [tuple, list],
        "branch_alphas": [tuple, list, None],
        "max_epochs": [POSITIVE_INT],
        "batch_size": [POSITIVE_INT],
        "lr": [POSITIVE],
        "momentum": [PROBABILITY],
        "weight_decay": [NON_NEGATIVE],
        "lr_schedule": [StrOptions({"cosine"}), None],
        "augmenter": [HasMethods(["fit", "augment"]), None],
        "image_shape": [tuple, list, None],
        "warm_start": ["boolean"],
        **COMMON_CONSTRAINTS,
    }

    def __init__(
        self,
        *,
        module="vgg",
        widths=(16, 32),
        module_params=None,
        scaling="mi",
        k=5,
        update_every=5,
        n_batches=2,
        diag_removal=False,
        branches=("square", "horizontal", "vertical"),
        branch_alphas=None,
        max_epochs=20,
        batch_size=64,
        lr=0.05,
        momentum=0.9,
        weight_decay=5e-4,
        lr_schedule="cosine",
        augmenter=None,
        image_shape=None,
        warm_start=False,
        callbacks=None,
        device="cpu",
        verbose=0,
        random_state=None,
    ):
        self.module = module
        self.widths = widths
        self.module_params = module_params
        self.scaling = scaling
        self.k = k
        self.update_every = update_every
        self.n_batches = n_batches
        self.diag_removal = diag_removal
        self.branches = branches
        self.branch_alphas = branch_alphas
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.augmenter = augmenter
        self.image_shape = image_shape
        self.warm_start = warm_start
        self.callbacks = callbacks
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    def _module_spec(self, n_channels, n_classes):
        widths = tuple(self.widths)
        if not widths or not all(
            isinstance(w, numbers.Integral) and w > 0 for w in widths
        ):
            raise ValueError(
                f"widths must be positive ints (channels per stage); got "
                f"{self.widths!r}."
            )
        params = dict(self.module_params or {})
        if isinstance(self.module, str):
            if self.module not in _BUILTIN_MODULES:
                raise ValueError(
                    f"module must be one of {sorted(_BUILTIN_MODULES)} or a "
                    f"torch.nn.Module subclass; got {self.module!r}."
                )
            cls = _BUILTIN_MODULES[self.module]
            params.setdefault("widths", tuple(self.widths))
        elif isinstance(self.module, type) and issubclass(self.module, nn.Module):
            cls = self.module
        else:
            raise TypeError(
                "module must be 'vgg', 'resnet' or a torch.nn.Module subclass (the "
                f"class, not an instance); got {self.module!r}."
            )
        accepted = inspect.signature(cls).parameters
        for key, value in (("in_channels", n_channels), ("n_classes", n_classes)):
            if key in accepted:
                params.setdefault(key, value)
        return cls, params

    @fit_method
    def fit(self, X, y):
        """Train the network (or, with ``warm_start=True``, continue training it).

        Parameters
        ----------
        X : array-like of shape (n, H, W), (n, C, H, W) or (n, C*H*W)
            Images, float (any range) or uint8 in [0, 255].
        y : array-like of shape (n,)
            Class labels (ints, strings, ...).

        Returns
        -------
        self : SGSConvClassifier
        """
        previous = self._warm_start_state()
        X, y = check_images(self, X, y, image_shape=self.image_shape, reset=True)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        if len(encoder.classes_) < 2:
            raise ValueError(
                "SGSConvClassifier needs at least 2 classes; y has 1 class "
                f"({encoder.classes_[0]!r})."
            )
        y_enc = encoder.transform(y).astype(np.int64)
        seed = check_seed(self.random_state)
        device = check_device(self.device)

        iterator_params = {}
        if self.augmenter is not None:
            self.augmenter_ = clone(self.augmenter).fit(X, encoder.classes_[y_enc])
            # training batches only: prediction never augments
            iterator_params["iterator_train__collate_fn"] = _AugmentingCollate(
                self.augmenter_, encoder.classes_, seed
            )

        with torch_seeded(seed, device):
            if previous is not None:
                net = self._continue(previous, encoder.classes_, X.shape[1:])
            else:
                net = self._new_net(
                    X.shape[1], len(encoder.classes_), seed, device,
                    # BatchNorm cannot train on a last batch of one image
                    drop_last=len(X) % self.batch_size == 1, **iterator_params,
                )  # fmt: skip
            fit_net(net, X, y_enc)

        # assigned only now, so an interrupted fit leaves the estimator as it was
        self.net_ = net
        self.history_ = net.history
        self.classes_ = encoder.classes_
        sgs = dict(net.callbacks_).get("sgs")
        self.scalings_ = sgs.scalings_ if sgs is not None else {}
        self.scalings_history_ = sgs.history_ if sgs is not None else []
        return self

    def _new_net(self, n_channels, n_classes, seed, device, **params):
        """The skorch net: the module, SGD, the SGS callback and the schedule."""
        module, module_params = self._module_spec(n_channels, n_classes)
        callbacks = []
        if self.scaling is not None:
            sgs = SpatialGradientScaling(
                method=self.scaling,
                k=self.k,
                update_every=self.update_every,
                n_samples=self.n_batches * self.batch_size,
                diag_removal=self.diag_removal,
                branches=self.branches,
                branch_alphas=self.branch_alphas,
                seed=seed,
            )
            callbacks.append(("sgs", sgs))
        if self.lr_schedule == "cosine":
            callbacks.append(
                (
                    "lr_schedule",
                    LRScheduler(
                        policy=torch.optim.lr_scheduler.CosineAnnealingLR,
                        T_max=self.max_epochs,
                    ),
                )
            )
        return make_net(
            module,
            module_params=module_params,
            stage="SGSConvClassifier",
            seed=seed,
            device=device,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            criterion=nn.CrossEntropyLoss,
            optimizer=torch.optim.SGD,
            optimizer_params={"momentum": self.momentum},
            weight_decay=self.weight_decay,
            stage_callbacks=callbacks,
            callbacks=self.callbacks,
            verbose=self.verbose,
            net_class=NeuralNetClassifier,
            **params,
        )

    def _rebuild_modules(self):
        """For :meth:`load`: the net of a fitted estimator, weights to be loaded."""
        self.net_ = self._new_net(
            self.image_shape_[0], len(self.classes_), 0, check_device(self.device)
        )
        self.net_.initialize()

    def _warm_start_state(self):
        """With ``warm_start=True`` and a fitted net: what it was fitted on."""
        if not self.warm_start or not hasattr(self, "net_"):
            return None
        return self.net_, self.classes_, tuple(self.image_shape_)

    def _continue(self, previous, classes, image_shape):
        """The fitted net, set to train ``max_epochs`` more epochs on data of the
        same classes and image shape."""
        net, old_classes, old_shape = previous
        if list(classes) != list(old_classes) or tuple(image_shape) != old_shape:
            raise ValueError(
                "warm_start=True continues the fitted net, which needs the same "
                f"classes and image shape; fitted on {list(old_classes)} and "
                f"{old_shape}, got {list(classes)} and {tuple(image_shape)}. Set "
                "warm_start=False to train a new net."
            )
        net.set_params(max_epochs=self.max_epochs, warm_start=True)
        return net

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n, H, W), (n, C, H, W) or (n, C*H*W)

        Returns
        -------
        proba : ndarray of shape (n, n_classes)
        """
        check_is_fitted(self)
        X, _ = check_images(self, X, reset=False)
        proba = self.net_.predict_proba(X).astype(np.float64)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Predicted class labels.

        Parameters
        ----------
        X : array-like of shape (n, H, W), (n, C, H, W) or (n, C*H*W)

        Returns
        -------
        y : ndarray of shape (n,)
        """
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True
        return tags
