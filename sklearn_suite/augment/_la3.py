"""LabelAwareAugmenter: LA3 label-aware augmentation policy search as a sampler."""

from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from imblearn.base import BaseSampler
from imblearn.utils import check_target_type
from sklearn.base import clone
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from sklearn_suite.augment._ops import OP_NAMES, check_triples
from sklearn_suite.augment._policy import apply_policy, save_policy
from sklearn_suite.augment._predictor import fit_predictor_ensemble
from sklearn_suite.augment._search import (
    ALL_TRIPLES,
    per_class_accuracy,
    per_label_mean,
    predict_all,
    run_search,
    select_policy,
)
from sklearn_suite.base import (
    COMMON_CONSTRAINTS,
    N_JOBS,
    NON_NEGATIVE,
    NON_NEGATIVE_INT,
    POSITIVE_INT,
    TorchEstimatorMixin,
    atomic,
    check_images,
    check_seed,
    fit_method,
    small_cnn_classifier,
)


def _to_layout(images, layout):
    """float32 (n, C, H, W) in [0, 1] -> the caller's layout, dtype and scale."""
    ndim, dtype, scale = layout
    out = images.reshape(len(images), -1) if ndim == 2 else images
    out = out[:, 0] if ndim == 3 else out
    if np.dtype(dtype).kind in "iu":  # pixels in [0, 255]
        return np.clip(np.round(out * 255), 0, 255).astype(dtype)
    return (out * scale).astype(dtype, copy=False)


def _layout_of(X, scale=1.0):
    """(ndim, dtype, scale) of validated input, to give results back in the same
    form: integer images are pixels in [0, 255]; float images are divided by
    ``scale`` for the ops (which work in [0, 1]) and multiplied back."""
    X = np.asarray(X)
    return X.ndim, (X.dtype if X.dtype.kind in "fiu" else np.dtype(np.float32)), scale


def _float_scale(X):
    """1 for images in [0, 1] (and integer pixels); else the float images' max,
    so that augmented copies stay on the originals' scale."""
    X = np.asarray(X)
    if X.dtype.kind in "iu" or X.size == 0:
        return 1.0
    return max(1.0, float(X.max()))


class _Layout:
    """Picklable converter to a fixed layout (for joblib workers)."""

    def __init__(self, layout):
        self.layout = layout

    def __call__(self, images):
        return _to_layout(images, self.layout)


class _ProxyReward:
    """Reward of one search round: per-class accuracy drop (percentage points) of
    the frozen proxy on the held-out split, each class under its own triple,
    averaged over ``n_passes`` passes with independent random levels."""

    def __init__(
        self, proxy, images, labels, n_classes, clean_accuracy, layout, n_passes=1
    ):
        self.proxy = proxy
        self.images = images
        self.labels = labels
        self.n_classes = n_classes
        self.clean_accuracy = clean_accuracy
        self.to_layout = _Layout(layout)
        self.n_passes = n_passes

    def __call__(self, triples, seed):
        """Rewards of a (n_classes, 3) assignment, or of a stack of them."""
        triples = np.asarray(triples)
        # the passes of a round are one batch: n_passes copies of its triples
        repeated = np.repeat(
            triples.reshape(-1, self.n_classes, 3), self.n_passes, axis=0
        )
        accuracy = per_class_accuracy(
            self.proxy.predict,
            self.images,
            self.labels,
            self.n_classes,
            repeated,
            seed,
            self.to_layout,
        ).reshape(-1, self.n_passes, self.n_classes)
        drop = 100.0 * (self.clean_accuracy - accuracy.mean(1))
        return drop.reshape(triples.shape[:-1])


class LabelAwareAugmenter(TorchEstimatorMixin, BaseSampler):
    """LA3: label-aware augmentation policies, searched with a predictor ensemble
    and Bayesian optimisation, as an imbalanced-learn sampler.

    ``fit`` runs the three stages of LA3:

    0. A proxy classifier is trained on a stratified part of the data; the rest is
       the held-out *search split* (neither the proxy's training data nor any test
       data).
    1. The reward of (label, op triple) is the drop in the frozen proxy's accuracy
       on that label's held-out images under the triple. One pass evaluates one
       triple per label. After ``n_init`` random rounds, an ensemble of neural
       predictors (label embedding + summed op embeddings -> MLP) is trained on
       the history, candidates are generated per label (mutations of the best,
       unseen random triples, UCB-weighted revisits) and botorch's
       ``qSimpleRegret`` on the ensemble posterior, optimised over the candidate
       set, queues ``queue_size`` triples per label.
    2. The ensemble, retrained on the whole history, scores all 4,096 triples per
       label; a greedy relevance + diversity selection (weight ``alpha``) picks
       ``top_k`` triples per label, starting from the best one.

    ``fit_resample`` returns the originals plus ``n_augment`` augmented copies per
    sample (float input is expected in [0, 1]; the copies are clipped to it). For
    fresh augmentations every epoch, pass the augmenter to
    ``SGSConvClassifier(augmenter=...)`` or use :class:`PolicyCollate`.

    Parameters
    ----------
    proxy : classifier, default=None
        Any classifier with ``fit``/``predict``, fitted on images in the layout of
        ``X``. None uses ``SGSConvClassifier(scaling=None)`` with
        ``proxy_max_epochs`` epochs.
    search_size : float, default=0.4
        Fraction of each label held out for the search.
    n_reward_passes : int, default=4
        Passes over the search split per reward, each with fresh random levels;
        the reward is their mean (1 is the paper's single pass). Measured on
        MNIST digits with 4 search images per label, two independent
        measurements of all 4,096 triples agree at Spearman 0.67 with one pass
        and 0.86 with four; the passes are a few percent of the search's time,
        which the predictor ensemble dominates.
    reward_images : {"all", "correct"}, default="all"
        Search images a reward is measured on. ``"all"`` (the paper): every
        held-out image, so a triple that turns the proxy's mistakes right earns a
        negative drop. ``"correct"``: only the images the proxy reads right
        clean (labels it never reads right keep all theirs), so the reward is
        the share of right answers the triple breaks.
    proxy_max_epochs : int, default=15
        Epochs of the default proxy.
    n_init : int, default=20
        Rounds with a random triple per label.
    n_rounds : int, default=60
        Rounds chosen by the predictor-guided search.
    queue_size : int, default=10
        Triples queued per label each time the ensemble is retrained.
    n_members : int, default=5
        Predictors in the ensemble.
    predictor_max_epochs : int, default=100
        Full-batch Adam epochs per predictor.
    label_aware : bool, default=True
        False removes the label from the predictor: one policy shared by all
        labels (the label-agnostic ablation).
    top_k : int, default=20
        Triples in each label's policy.
    alpha : float, default=2.5
        Weight of the diversity term; 0 gives plain top-k.
    n_augment : int, default=1
        Augmented copies per sample returned by ``fit_resample``.
    image_shape : tuple of int, default=None
        ``(C, H, W)`` for 2-D ``X``; one entry may be -1.
    n_jobs : int, default=None
        Parallel proxy evaluations through joblib (any backend, e.g. Dask).
    callbacks : list of skorch callbacks, default=None
        Extra callbacks of the default proxy's net and of every predictor net.
    device : str, default="cpu"
        Device of the default proxy (the small predictors train on the CPU).
    verbose : int, default=0
        1 shows a progress bar over search rounds.
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    policy_ : dict of label to list of tuple of str
        The op-name triples of each label.
    search_history_ : pandas.DataFrame
        One row per evaluated (round, label, triple): columns ``round``,
        ``stage`` ("init" or "bo"), ``label``, ``triple``, ``reward``.
    predicted_scores_ : ndarray of shape (n_classes, 4096)
        Predicted reward (accuracy drop, lower is better) of every triple.
    op_scores_ : pandas.DataFrame
        Label x op: mean predicted reward of the triples containing the op.
    proxy_ : classifier
        The fitted proxy.
    history_ : dict
        ``"proxy"``: the proxy's skorch History (None for a proxy without
        ``history_``); ``"predictor"``: the History of every predictor ensemble
        fitted, in order (one per search round, then the final one).
    proxy_indices_, search_indices_ : ndarray of int
        Rows of ``X`` used to train the proxy and to search.
    clean_accuracy_ : ndarray of shape (n_classes,)
        Proxy accuracy per label on the clean search split.
    n_proxy_evaluations_ : int
        Search rounds run (each a pass over the search split).
    sampling_strategy_ : dict
        Label -> number of samples ``fit_resample`` returns for it.
    n_features_in_ : int
    image_shape_ : tuple of int

    References
    ----------
    .. [1] Zhao, Lu, Wang, Wang and Niu, "LA3: Efficient Label-Aware
       AutoAugment", ECCV 2022.

    Examples
    --------
    >>> from sklearn_suite import LabelAwareAugmenter
    >>> from sklearn_suite.datasets import load_digit_images
    >>> X, y = load_digit_images(size=16, return_X_y=True)
    >>> aug = LabelAwareAugmenter(proxy_max_epochs=2, n_init=2, n_rounds=2,
    ...                           queue_size=2, n_members=2, predictor_max_epochs=10,
    ...                           top_k=3, random_state=0)
    >>> X_res, y_res = aug.fit_resample(X[:200], y[:200])
    >>> X_res.shape
    (400, 1, 16, 16)
    >>> len(aug.policy_[0])
    3
    """

    _sampling_type = "bypass"
    # read by imbalanced-learn's fit_resample; the bypass type leaves it as is
    sampling_strategy = "auto"

    _parameter_constraints: dict = {
        "proxy": [HasMethods(["fit", "predict"]), None],
        "search_size": [Interval(Real, 0, 1, closed="neither")],
        "n_reward_passes": [POSITIVE_INT],
        "reward_images": [StrOptions({"all", "correct"})],
        "proxy_max_epochs": [POSITIVE_INT],
        "n_init": [POSITIVE_INT],
        "n_rounds": [NON_NEGATIVE_INT],
        "queue_size": [POSITIVE_INT],
        "n_members": [POSITIVE_INT],
        "predictor_max_epochs": [POSITIVE_INT],
        "label_aware": ["boolean"],
        "top_k": [Interval(Integral, 1, len(ALL_TRIPLES), closed="both")],
        "alpha": [NON_NEGATIVE],
        "n_augment": [NON_NEGATIVE_INT],
        "image_shape": [tuple, list, None],
        "n_jobs": N_JOBS,
        **COMMON_CONSTRAINTS,
    }

    def __init__(
        self,
        *,
        proxy=None,
        search_size=0.4,
        n_reward_passes=4,
        reward_images="all",
        proxy_max_epochs=15,
        n_init=20,
        n_rounds=60,
        queue_size=10,
        n_members=5,
        predictor_max_epochs=100,
        label_aware=True,
        top_k=20,
        alpha=2.5,
        n_augment=1,
        image_shape=None,
        n_jobs=None,
        callbacks=None,
        device="cpu",
        verbose=0,
        random_state=None,
    ):
        self.proxy = proxy
        self.search_size = search_size
        self.n_reward_passes = n_reward_passes
        self.reward_images = reward_images
        self.proxy_max_epochs = proxy_max_epochs
        self.n_init = n_init
        self.n_rounds = n_rounds
        self.queue_size = queue_size
        self.n_members = n_members
        self.predictor_max_epochs = predictor_max_epochs
        self.label_aware = label_aware
        self.top_k = top_k
        self.alpha = alpha
        self.n_augment = n_augment
        self.image_shape = image_shape
        self.n_jobs = n_jobs
        self.callbacks = callbacks
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    def _check_X_y(self, X, y, accept_sparse=None):
        """imbalanced-learn's input check, for images in any of their layouts;
        the raw input is kept for ``_fit_resample`` so the originals come back
        exactly as given."""
        check_classification_targets(y)
        # one-vs-all indicator targets become labels, as in imbalanced-learn
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        images, y = check_images(self, X, y, image_shape=self.image_shape, reset=True)
        self._layout = _layout_of(X, _float_scale(X))
        self._raw_X = np.asarray(X)
        return images / np.float32(self._layout[2]), y, binarize_y

    @fit_method
    def fit(self, X, y):
        """Run the policy search (stages 0-2).

        Parameters
        ----------
        X : array-like of shape (n, H, W), (n, C, H, W) or (n, C*H*W)
            Float images in [0, 1] or uint8 in [0, 255].
        y : array-like of shape (n,)

        Returns
        -------
        self : LabelAwareAugmenter
        """
        images, y, _ = self._check_X_y(X, y)
        del self._raw_X
        self._search(images, y)
        return self

    @atomic
    def fit_resample(self, X, y, **params):
        """Search the policy, then return the originals plus ``n_augment``
        augmented copies of every sample (imbalanced-learn's ``fit_resample``,
        made atomic: a failed or interrupted call leaves the sampler as it was).

        Parameters
        ----------
        X : array-like of shape (n, H, W), (n, C, H, W) or (n, C*H*W)
        y : array-like of shape (n,)

        Returns
        -------
        X_resampled : ndarray or DataFrame of shape (n * (1 + n_augment), ...)
            Same layout, dtype and scale as ``X``.
        y_resampled : ndarray of shape (n * (1 + n_augment),)
        """
        return super().fit_resample(X, y, **params)

    def _fit_resample(self, X, y):
        """Search the policy on the validated images ``X`` (imbalanced-learn's
        ``fit_resample`` validates and converts the layout back), then return
        the originals plus ``n_augment`` augmented copies of every sample."""
        originals = self._raw_X
        del self._raw_X
        self._search(X, y)
        rng = check_random_state(check_seed(self.random_state))
        copies = [
            _to_layout(self._augment_images(X, y, rng), self._layout)
            for _ in range(self.n_augment)
        ]
        return (
            np.concatenate([originals, *copies]),
            np.concatenate([y] * (1 + self.n_augment)),
        )

    def _search(self, images, y):
        encoder = LabelEncoder().fit(y)
        labels = encoder.transform(y)
        counts = np.bincount(labels)
        if len(counts) < 2:
            raise ValueError(
                "LabelAwareAugmenter needs at least 2 classes in y; got 1 class."
            )
        if counts.min() < 2:
            rare = encoder.classes_[counts < 2].tolist()
            raise ValueError(
                f"Every label needs at least 2 samples (one to train the proxy, one "
                f"to search); label(s) {rare} have fewer."
            )
        seed = check_seed(self.random_state)
        n_classes = len(encoder.classes_)
        proxy_idx, search_idx = train_test_split(
            np.arange(len(labels)),
            test_size=self.search_size,
            stratify=labels,
            random_state=seed % (2**31 - 1),
        )
        to_layout = _Layout(self._layout)
        if self.proxy is None:
            proxy = small_cnn_classifier(
                max_epochs=self.proxy_max_epochs,
                device=self.device,
                image_shape=self.image_shape_ if self._layout[0] == 2 else None,
                callbacks=self.callbacks,
                random_state=seed,
            )
        else:
            proxy = clone(self.proxy)
        proxy.fit(to_layout(images[proxy_idx]), labels[proxy_idx])
        held_images, held_labels = images[search_idx], labels[search_idx]
        correct = proxy.predict(to_layout(held_images)) == held_labels
        clean = reward_clean = per_label_mean(correct, held_labels, n_classes)
        if self.reward_images == "correct":
            # a triple cannot earn reward by turning the proxy's mistakes right;
            # a label the proxy never reads right keeps all its images
            keep = correct | ~np.isin(held_labels, held_labels[correct])
            held_images, held_labels = held_images[keep], held_labels[keep]
            reward_clean = per_label_mean(correct[keep], held_labels, n_classes)
        reward = _ProxyReward(
            proxy,
            held_images,
            held_labels,
            n_classes,
            reward_clean,
            self._layout,
            self.n_reward_passes,
        )

        progress = None
        if self.verbose:
            from tqdm.auto import tqdm

            progress = tqdm(
                total=self.n_init + self.n_rounds, desc="LA3 search", leave=False
            )
        state, search_histories = run_search(
            reward,
            n_classes,
            n_init=self.n_init,
            n_rounds=self.n_rounds,
            queue_size=self.queue_size,
            n_members=self.n_members,
            label_aware=self.label_aware,
            predictor_max_epochs=self.predictor_max_epochs,
            n_jobs=self.n_jobs,
            seed=seed,
            progress=progress,
            callbacks=self.callbacks,
        )
        if progress is not None:
            progress.close()

        members, predictor_history = fit_predictor_ensemble(
            *state.training_set(),
            n_classes=n_classes,
            n_members=self.n_members,
            label_aware=self.label_aware,
            epochs=self.predictor_max_epochs,
            seed=seed,
            callbacks=self.callbacks,
        )
        scores = predict_all(members, n_classes, self.label_aware)
        self.classes_ = encoder.classes_
        self.proxy_ = proxy
        self.history_ = {
            "proxy": getattr(proxy, "history_", None),
            "predictor": [*search_histories, predictor_history],
        }
        self.proxy_indices_, self.search_indices_ = (
            np.sort(proxy_idx),
            np.sort(search_idx),
        )
        self.clean_accuracy_ = clean
        self.predicted_scores_ = scores
        self.policy_ = {
            label: [
                tuple(OP_NAMES[i] for i in ALL_TRIPLES[j])
                for j in select_policy(scores[c], self.top_k, self.alpha)
            ]
            for c, label in enumerate(self.classes_)
        }
        self.search_history_ = pd.DataFrame(
            [
                (r, stage, self.classes_[c], tuple(OP_NAMES[i] for i in t), v)
                for r, stage, c, t, v in state.rows
            ],
            columns=["round", "stage", "label", "triple", "reward"],
        )
        self.n_proxy_evaluations_ = int(self.search_history_["round"].nunique())
        self.sampling_strategy_ = {
            label: int(count) * (1 + self.n_augment)
            for label, count in zip(self.classes_, counts)
        }
        contains = np.stack([(ALL_TRIPLES == op).any(1) for op in range(len(OP_NAMES))])
        self.op_scores_ = pd.DataFrame(
            [
                [scores[c, contains[op]].mean() for op in range(len(OP_NAMES))]
                for c in range(n_classes)
            ],
            index=pd.Index(self.classes_, name="label"),
            columns=list(OP_NAMES),
        )

    def _augment_images(self, images, y, random_state):
        unseen = sorted(set(np.unique(y).tolist()) - set(self.classes_.tolist()))
        if unseen:
            raise ValueError(
                f"y has label(s) {unseen} that were not seen in fit; known labels "
                f"are {self.classes_.tolist()}."
            )
        out = apply_policy(
            torch.from_numpy(images), list(y), self.policy_, random_state
        )
        return out.numpy()

    def augment(self, X, y, random_state=None):
        """Apply the fitted policy once: one triple per sample, drawn from its
        label's policy, with random levels.

        Parameters
        ----------
        X : array-like
            Images in the layout seen in ``fit``.
        y : array-like of shape (n,)
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        X_augmented : ndarray, same layout and dtype as ``X``
        """
        check_is_fitted(self)
        images, y = check_images(self, X, y, reset=False)
        layout = _layout_of(X, self._layout[2])
        images = images / np.float32(layout[2] if layout[1].kind == "f" else 1.0)
        return _to_layout(self._augment_images(images, y, random_state), layout)

    def _rebuild_modules(self):
        """For :meth:`load`: no network of its own (the proxy rebuilds its own)."""

    def export_policy(self, path):
        """Write ``policy_`` to a JSON file (see :func:`load_policy`)."""
        check_is_fitted(self)
        save_policy(self.policy_, path)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        return tags


def policy_op_frequency(policy):
    """Fraction of op slots each op fills in each label's policy (label x op)."""
    rows = {}
    for label, triples in policy.items():
        counts = np.bincount(check_triples(triples).ravel(), minlength=len(OP_NAMES))
        rows[label] = counts / counts.sum()
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(OP_NAMES))
