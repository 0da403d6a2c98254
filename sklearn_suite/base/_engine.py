"""One training engine: the skorch net every minibatch-trained core goes through.

:func:`make_net` builds a skorch ``NeuralNet`` with the library's defaults (no
hidden validation split, a seeded shuffle, a divergence guard, optional warm-up
and decay, gradient clipping, early stopping that restores the best epoch, a
progress bar, and the user's own callbacks); :func:`fit_net` trains it and lets
``KeyboardInterrupt`` through.
"""

import functools
import math

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import (
    Callback,
    EarlyStopping,
    GradientNormClipping,
    LRScheduler,
)
from skorch.dataset import ValidSplit
from skorch.helper import predefined_split
from skorch.history import History

__all__ = [
    "atomic",
    "fit_method",
    "ArrayCollate",
    "ArrayDataset",
    "DivergenceGuard",
    "ItemDataset",
    "LossOutput",
    "EpochProgressBar",
    "TrainingDivergedError",
    "fit_net",
    "make_net",
    "small_cnn_classifier",
    "warmup_decay",
]


class ItemDataset(torch.utils.data.Dataset):
    """Python objects (sentences, stories, graphs ...) and their targets, for a
    skorch net whose collate function turns a list of ``(item, target)`` pairs
    into tensors. Without targets, each item comes with a target of 0.

    Parameters
    ----------
    items : sequence
    targets : sequence or None, default=None
    """

    def __init__(self, items, targets=None):
        if targets is not None and len(targets) != len(items):
            raise ValueError(
                f"{len(items)} items but {len(targets)} targets; they must match."
            )
        self.items = items
        self.targets = targets

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i], 0 if self.targets is None else self.targets[i]


class ArrayDataset(torch.utils.data.Dataset):
    """Rows of numpy arrays, fetched a whole batch at a time.

    ``X`` is a dict of arrays of equal length (``y`` optional, one row each). A
    ``DataLoader`` over it calls ``__getitems__`` with a batch's row indices and
    gets ``(dict of array slices, y slice or None)`` in one vectorised step (no
    per-row Python), which its ``collate_fn`` then turns into tensors; use
    :class:`ArrayCollate` or a subclass.

    Parameters
    ----------
    X : dict of str to ndarray
    y : ndarray or None, default=None
    """

    def __init__(self, X, y=None):
        lengths = {len(v) for v in X.values()} | ({len(y)} if y is not None else set())
        if len(lengths) != 1:
            raise ValueError(f"arrays of different lengths: {sorted(lengths)}.")
        self.X = X
        self.y = y

    def __len__(self):
        return len(next(iter(self.X.values())))

    def __getitems__(self, index):
        index = np.asarray(index)
        return {k: v[index] for k, v in self.X.items()}, (
            None if self.y is None else self.y[index]
        )

    def __getitem__(self, i):
        return self.__getitems__([i])


class ArrayCollate:
    """Collate function of :class:`ArrayDataset` batches: arrays to tensors (a
    zero target when there is none). Subclasses add to the batch in ``extend``."""

    def __call__(self, batch):
        X, y = batch
        X = self.extend(dict(X))
        X = {k: torch.as_tensor(v) for k, v in X.items()}
        n = len(next(iter(X.values())))
        return X, torch.zeros(n) if y is None else torch.as_tensor(y)

    def extend(self, X):
        return X


class LossOutput(torch.nn.Module):
    """A criterion for modules that compute their own loss: returns it."""

    def forward(self, loss, target=None):
        return loss


class TrainingDivergedError(FloatingPointError):
    """The training loss of a stage became NaN or infinite."""


class DivergenceGuard(Callback):
    """Stop training with :class:`TrainingDivergedError` as soon as a training
    batch's loss is not finite, naming the stage, the epoch and what to lower.

    Parameters
    ----------
    stage : str, default="training"
        Name of the stage, for the message.
    hint : str, default="lr"
        The parameter to lower, for the message.
    """

    def __init__(self, stage="training", hint="lr"):
        self.stage = stage
        self.hint = hint

    def on_batch_end(self, net, batch=None, training=None, loss=None, **kwargs):
        if not training or loss is None:
            return
        value = loss.item() if torch.is_tensor(loss) else float(loss)
        if not math.isfinite(value):
            raise TrainingDivergedError(
                f"{self.stage} diverged in epoch {len(net.history)}: the training "
                f"loss became {value}. Lower {self.hint} (now {net.lr:g}) or "
                "check the input for NaN or infinite values."
            )


class EpochMetric(Callback):
    """Record ``score()`` under ``name`` in the history at the end of every epoch
    (a validation metric computed by the estimator, e.g. HR@10)."""

    def __init__(self, name, score):
        self.name = name
        self.score = score

    def on_epoch_end(self, net, **kwargs):
        net.history.record(self.name, float(self.score()))


class EpochProgressBar(Callback):
    """A tqdm progress bar over the epochs of a skorch net, showing the train loss.

    Parameters
    ----------
    desc : str, default="training"
        Label in front of the bar.
    """

    def __init__(self, desc="training"):
        self.desc = desc

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        from tqdm.auto import tqdm

        self.bar_ = tqdm(total=net.max_epochs, desc=self.desc, leave=False)

    def on_epoch_end(self, net, **kwargs):
        self.bar_.update(1)
        loss = net.history[-1].get("train_loss")
        if loss is not None:
            self.bar_.set_postfix(loss=f"{loss:.4f}")

    def on_train_end(self, net, X=None, y=None, **kwargs):
        bar = getattr(self, "bar_", None)
        if bar is not None:
            bar.close()
            del self.bar_


class HandLoop:
    """What the library's hand-written training loops share (RecGURU's adversarial
    game, GlyphDraw's diffusion training, R5's self-play: loops that are not
    minibatch learning on a dataset, so not skorch nets): a progress bar over
    their steps and the divergence check the skorch nets have.

    Iterate over it for the step numbers; pass each step's loss to
    :meth:`check`, which returns it as a float and records it. ``history`` is a
    skorch ``History`` with one entry per step (``step``, ``train_loss`` and
    whatever :meth:`record` adds), the same shape as the nets' histories.

    Parameters
    ----------
    n_steps : int
    stage : str
        Name of the loop, for the bar and for errors.
    verbose : int, default=0
        1 shows the bar.
    hint : str, default="lr"
        The parameter to lower when the loss diverges.
    """

    def __init__(self, n_steps, stage, verbose=0, hint="lr"):
        self.n_steps = n_steps
        self.stage = stage
        self.verbose = verbose
        self.hint = hint
        self.step = 0
        self.history = History()

    def __iter__(self):
        from tqdm.auto import tqdm

        with tqdm(total=self.n_steps, desc=self.stage, leave=False,
                  disable=not self.verbose) as bar:  # fmt: skip
            self._bar = bar
            for step in range(self.n_steps):
                self.step = step
                self.history.new_epoch()
                self.history.record("step", step + 1)
                yield step
                bar.update(1)
        self._bar = None

    def record(self, key, value):
        """Record ``value`` under ``key`` for the current step."""
        self.history.record(key, value)

    def check(self, loss, key="train_loss"):
        """Raise :class:`TrainingDivergedError` when ``loss`` is not finite;
        record it under ``key`` and return it as a float."""
        value = loss.item() if torch.is_tensor(loss) else float(loss)
        if not math.isfinite(value):
            raise TrainingDivergedError(
                f"{self.stage} diverged at step {self.step + 1}: the loss became "
                f"{value}. Lower {self.hint} or check the input for NaN or "
                "infinite values."
            )
        if len(self.history):
            self.history.record(key, value)
        if getattr(self, "_bar", None) is not None:
            self._bar.set_postfix(loss=f"{value:.4f}", refresh=False)
        return value


def warmup_decay(optimizer, *, total_steps, warmup_steps=0, final_factor=0.0,
                 last_epoch=-1):  # fmt: skip
    """Linear warm-up to the base learning rate, then linear decay.

    The rate rises over ``warmup_steps`` steps, then falls linearly to
    ``final_factor`` times the base rate at ``total_steps``. Built from torch's
    own schedulers, so it pickles (a ``LambdaLR`` over a closure does not).

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
    total_steps : int
        Steps (batches) of the whole training.
    warmup_steps : int, default=0
    final_factor : float, default=0.0
        Rate at the end, as a fraction of the base rate.
    last_epoch : int, default=-1
        Accepted for skorch's ``LRScheduler`` and ignored: the schedule starts
        afresh with every fit.

    Returns
    -------
    scheduler : torch.optim.lr_scheduler.LRScheduler
    """
    from torch.optim.lr_scheduler import LinearLR, SequentialLR

    warmup_steps = int(min(max(warmup_steps, 0), max(total_steps - 1, 0)))
    decay = LinearLR(
        optimizer,
        start_factor=1.0,
        end_factor=final_factor,
        total_iters=max(1, total_steps - warmup_steps),
    )
    if warmup_steps == 0:
        return decay
    warmup = LinearLR(
        optimizer,
        start_factor=1.0 / warmup_steps,
        end_factor=1.0,
        total_iters=warmup_steps,
    )
    return SequentialLR(optimizer, [warmup, decay], milestones=[warmup_steps])


def _user_callbacks(callbacks):
    """The user's ``callbacks`` as skorch expects them (instances or named)."""
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback) or not hasattr(callbacks, "__iter__"):
        raise TypeError(
            "callbacks must be a list of skorch callbacks (instances, or "
            f"(name, callback) pairs); got {type(callbacks).__name__}."
        )
    return list(callbacks)


def make_net(
    module,
    *,
    stage,
    seed,
    device,
    lr,
    max_epochs,
    batch_size,
    criterion=torch.nn.MSELoss,
    optimizer=torch.optim.AdamW,
    weight_decay=0.0,
    module_params=None,
    optimizer_params=None,
    criterion_params=None,
    valid=None,
    early_stopping=None,
    grad_clip=None,
    schedule=None,
    collate=None,
    shuffle=True,
    drop_last=False,
    stage_callbacks=(),
    callbacks=None,
    verbose=0,
    warm_start=False,
    hint="lr",
    net_class=NeuralNet,
    **params,
):
    """Build the skorch net of one training stage.

    Parameters
    ----------
    module : torch.nn.Module subclass or instance
        The core; ``module_params`` become skorch's ``module__`` parameters.
    stage : str
        Name of the stage (progress bar, error messages).
    seed : int
        Seeds the training shuffle (and the validation split when ``valid`` is a
        fraction). Seed torch itself around construction and fit for the weights.
    device : str
        skorch's device.
    lr, max_epochs, batch_size
        As in skorch; ``batch_size=-1`` trains on the whole data at once.
    criterion : torch.nn.Module subclass, default=MSELoss
        Called as ``criterion(y_pred, y_true)`` with the module's output and the
        batch's target (any structure skorch moves to the device).
    optimizer : torch.optim.Optimizer subclass, default=AdamW
    weight_decay : float, default=0.0
        Always passed to the optimizer (AdamW's own default would be 0.01).
    module_params, optimizer_params, criterion_params : dict, default=None
        Keyword arguments of the module, optimizer and criterion.
    valid : None, float or torch Dataset, default=None
        None: no validation. A float: that seeded fraction of the data. A
        Dataset: used as the validation data of every epoch.
    early_stopping : dict, default=None
        Keyword arguments of skorch's ``EarlyStopping`` (``monitor``,
        ``patience``, ``lower_is_better``, ``threshold``); the best epoch's
        weights are restored at the end.
    grad_clip : float, default=None
        Clip the gradient norm at this value.
    schedule : dict, default=None
        Keyword arguments of :func:`warmup_decay` (``total_steps``,
        ``warmup_steps``, ``final_factor``), stepped every batch.
    collate : callable, default=None
        Collate function of both iterators (module level, so nets pickle).
    shuffle, drop_last : bool
        Of the training iterator.
    stage_callbacks : sequence of (name, Callback), default=()
        The stage's own callbacks (validation metrics, a method's gradient
        hooks, other schedules); they run before early stopping, so it can
        monitor what they record.
    callbacks : list of skorch callbacks, default=None
        The user's; they see every epoch of this stage.
    verbose : int, default=0
        1 shows a progress bar over epochs.
    warm_start : bool, default=False
        skorch's: ``fit`` continues from the current weights.
    hint : str, default="lr"
        The parameter named when the loss diverges.
    net_class : skorch.NeuralNet subclass, default=NeuralNet
    **params
        More skorch parameters (e.g. ``iterator_valid__batch_size``).

    Returns
    -------
    net : skorch.NeuralNet
    """
    internal = [("divergence", DivergenceGuard(stage, hint))]
    if grad_clip is not None:
        internal.append(("gradient_clip", GradientNormClipping(grad_clip)))
    if schedule is not None:
        internal.append(
            ("lr_schedule", LRScheduler(warmup_decay, step_every="batch", **schedule))
        )
    internal += list(stage_callbacks)
    if early_stopping is not None:
        internal.append(
            ("early_stopping", EarlyStopping(load_best=True, **early_stopping))
        )
    if verbose:
        internal.append(("progress", EpochProgressBar(stage)))
    if valid is None:
        train_split = None
    elif isinstance(valid, float):
        train_split = ValidSplit(valid, stratified=False, random_state=seed)
    else:
        train_split = predefined_split(valid)
    iterators = {}
    if collate is not None:
        iterators["iterator_train__collate_fn"] = collate
        iterators["iterator_valid__collate_fn"] = collate
    nested = {
        **{f"module__{k}": v for k, v in (module_params or {}).items()},
        **{f"optimizer__{k}": v for k, v in (optimizer_params or {}).items()},
        **{f"criterion__{k}": v for k, v in (criterion_params or {}).items()},
    }
    nested["optimizer__weight_decay"] = weight_decay
    return net_class(
        module,
        criterion=criterion,
        optimizer=optimizer,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=batch_size,
        train_split=train_split,
        iterator_train__shuffle=shuffle,
        iterator_train__drop_last=drop_last,
        iterator_train__generator=torch.Generator().manual_seed(seed),
        # prediction iterators draw their base seed from this, not the caller's RNG
        iterator_valid__generator=torch.Generator().manual_seed(seed),
        callbacks=internal + _user_callbacks(callbacks),
        device=device,
        warm_start=warm_start,
        verbose=0,
        **iterators,
        **nested,
        **params,
    )


def fit_net(net, X, y=None, **fit_params):
    """Fit a skorch net like ``net.fit``, but let ``KeyboardInterrupt`` through.

    skorch's ``partial_fit`` catches ``KeyboardInterrupt`` and returns a half-trained
    net as if training had finished; a user pressing Ctrl-C wants training, and
    whatever called it, to stop. Early stopping (which skorch signals with the
    same exception) still ends training normally.

    Parameters
    ----------
    net : skorch.NeuralNet
        The net; (re-)initialised unless ``warm_start`` is set and it is initialised.
    X, y, **fit_params
        As for ``net.fit``.

    Returns
    -------
    net : skorch.NeuralNet
    """
    if not net.warm_start or not net.initialized_:
        net.initialize()
    net.notify("on_train_begin", X=X, y=y)
    try:
        net.fit_loop(X, y, **fit_params)
    except KeyboardInterrupt:
        if not _stopped_early(net):
            raise
    finally:
        net.notify("on_train_end", X=X, y=y)
    return net


def _stopped_early(net):
    """skorch's EarlyStopping ends training by raising KeyboardInterrupt: tell
    that apart from the user's Ctrl-C by its count of epochs without progress."""
    return any(
        isinstance(cb, EarlyStopping) and getattr(cb, "misses_", 0) >= cb.patience
        for _, cb in net.callbacks_
    )


def small_cnn_classifier(**params):
    """The library's small CNN image classifier, trained plainly: an
    :class:`~sklearn_suite.SGSConvClassifier` with ``scaling=None``.

    A factory here so that methods needing a default image classifier (LA3's
    proxy) do not import a sibling method's package.

    Parameters
    ----------
    **params
        Parameters of ``SGSConvClassifier``.

    Returns
    -------
    classifier : SGSConvClassifier
    """
    from sklearn_suite.conv import SGSConvClassifier

    return SGSConvClassifier(**{"scaling": None, **params})


def atomic(method):
    """Make a fitting method atomic: if it raises (Ctrl-C included), the
    estimator's attributes are put back as they were, so it is as fitted (or
    unfitted) as before. Objects the method changes in place (a warm-started
    net) are not put back; fitting methods build new objects."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        before = dict(self.__dict__)
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise

    return wrapper


def fit_method(method):
    """The library's ``fit`` decorator: the declared ``_parameter_constraints``
    are checked before any work (scikit-learn's ``_fit_context``) and the fit is
    :func:`atomic`."""
    from sklearn.base import _fit_context

    return atomic(_fit_context(prefer_skip_nested_validation=True)(method))
