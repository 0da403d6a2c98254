"""The library's own API checks, for estimators whose input is not a 2-D array.

scikit-learn's ``check_estimator`` only runs on 2-D array input. These checks take
an :class:`ApiCase` (an unfitted estimator with small fit data and a list of bad
inputs) and assert what ``DESIGN.md`` promises of every public estimator: clone and
parameter round-trips, ``NotFittedError`` before ``fit``, ``fit`` returns self and
leaves parameters alone, joblib round-trips, same seed gives the same predictions,
declared parameters validated before any work, user callbacks that see every
epoch of every skorch-trained stage, pickle-free save/load round trips, the
caller's random state left alone, interrupted fits that change nothing, and bad
input raising ``ValueError``/``TypeError`` (or a named training error) that names
the problem.
"""

import dataclasses
import io
import re
from collections.abc import Callable

import joblib
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import NotFittedError


@dataclasses.dataclass
class BadInput:
    """Input that ``fit`` (or ``method`` after fitting) must reject.

    Attributes
    ----------
    description : str
        What is wrong, for the test id.
    X : object
        The bad input; None uses the case's own data (for bad ``params``).
    match : str
        Regular expression the error message must match (it names the problem:
        the parameter, the row or the stage).
    method : str, default="fit"
        ``"fit"`` or the name of a method called on a fitted estimator.
    y : object, default=None
        Targets to pass with ``X`` (to ``fit``: instead of the case's own; to
        another method: as its second argument). None passes the case's own to
        ``fit`` and nothing to other methods.
    params : dict, default=None
        Parameters set on the estimator before ``fit`` (bad hyperparameters).
    error : exception class or tuple, default=(ValueError, TypeError)
        What must be raised (e.g. ``TrainingDivergedError``).
    """

    description: str
    X: object
    match: str
    method: str = "fit"
    y: object = None
    params: dict = None
    error: object = (ValueError, TypeError)


@dataclasses.dataclass
class ApiCase:
    """An estimator with what the API checks need to run it.

    Attributes
    ----------
    estimator : estimator instance
        Unfitted, with small settings and an int ``random_state``.
    make_data : callable
        Returns ``(X, y)`` to fit on (``y`` may be None).
    bad_inputs : list of BadInput
    predict : callable, default=None
        ``predict(estimator, X, y)`` gives the output the round-trip, seed and
        unfitted checks use; None calls ``estimator.predict(X)``.
    """

    estimator: object
    make_data: Callable
    bad_inputs: list = dataclasses.field(default_factory=list)
    predict: Callable = None

    def output(self, estimator, X, y):
        if self.predict is None:
            return estimator.predict(X)
        return self.predict(estimator, X, y)

    @property
    def name(self):
        return type(self.estimator).__name__


def _fit_and_output(case):
    X, y = case.make_data()
    estimator = clone(case.estimator).fit(X, y)
    return estimator, case.output(estimator, X, y)


def _assert_same(a, b):
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b, f"{a!r} != {b!r}"


def check_clone_and_params(case):
    est = case.estimator
    params = est.get_params()
    cloned = clone(est)
    assert joblib.hash(cloned.get_params()) == joblib.hash(params)
    cloned.set_params(**params)
    assert joblib.hash(cloned.get_params()) == joblib.hash(params)
    assert repr(cloned)


def check_not_fitted(case):
    X, y = case.make_data()
    try:
        case.output(clone(case.estimator), X, y)
    except NotFittedError:
        return
    raise AssertionError("using an unfitted estimator did not raise NotFittedError")


def check_fit_returns_self_and_keeps_params(case):
    est = clone(case.estimator)
    before = joblib.hash(est.get_params())
    X, y = case.make_data()
    assert est.fit(X, y) is est, "fit must return self"
    assert joblib.hash(est.get_params()) == before, "fit changed a parameter"


def check_joblib_roundtrip(case):
    est, expected = _fit_and_output(case)
    buffer = io.BytesIO()
    joblib.dump(est, buffer)
    buffer.seek(0)
    loaded = joblib.load(buffer)
    X, y = case.make_data()
    _assert_same(expected, case.output(loaded, X, y))


def check_save_load_roundtrip(case):
    """The pickle-free model file gives back identical predictions."""
    import tempfile
    from pathlib import Path

    est, expected = _fit_and_output(case)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.safetensors"
        est.save(path)
        loaded = type(est).load(path)
    assert type(loaded) is type(est)
    assert joblib.hash(loaded.get_params()) == joblib.hash(est.get_params())
    X, y = case.make_data()
    _assert_same(expected, case.output(loaded, X, y))


def check_same_seed_same_predictions(case):
    _assert_same(_fit_and_output(case)[1], _fit_and_output(case)[1])


def check_bad_input(case, bad):
    X, y = case.make_data()
    bad_X = X if bad.X is None else bad.X
    est = clone(case.estimator).set_params(**(bad.params or {}))
    if bad.method == "fit":
        call = lambda: est.fit(bad_X, y if bad.y is None else bad.y)  # noqa: E731
    else:
        est.fit(X, y)
        args = (bad_X,) if bad.y is None else (bad_X, bad.y)
        call = lambda: getattr(est, bad.method)(*args)  # noqa: E731
    try:
        call()
    except bad.error as exc:
        assert re.search(bad.match, str(exc)), (
            f"{case.name}.{bad.method} with {bad.description} raised "
            f"{type(exc).__name__}({exc}) whose message does not match {bad.match!r}"
        )
        return
    raise AssertionError(f"{case.name}.{bad.method} accepted {bad.description}")


def check_declared_parameters(case):
    """Every parameter is declared in ``_parameter_constraints`` and ``fit``
    rejects a value of the wrong type or range before any work, naming it
    (scikit-learn's ``check_param_validation``; its toy data is never reached)."""
    from sklearn.utils.estimator_checks import check_param_validation

    check_param_validation(case.name, case.estimator)


def _histories(history):
    """Every skorch History in ``history_`` (one, or stages in dicts and lists)."""
    from skorch.history import History

    if isinstance(history, History):
        return [history]
    if isinstance(history, dict):
        history = list(history.values())
    if isinstance(history, list):
        return [h for value in history for h in _histories(value)]
    return []


def check_callbacks_see_every_epoch(case):
    """A user callback passed as ``callbacks`` sees every epoch of every
    skorch-trained stage, and ``history_`` holds each epoch's training loss."""
    from skorch.callbacks import Callback

    class CountEpochs(Callback):
        def initialize(self):
            self.epochs_ = getattr(self, "epochs_", 0)
            return self

        def on_epoch_end(self, net, **kwargs):
            self.epochs_ += 1

    if "callbacks" not in case.estimator.get_params():
        raise AssertionError(f"{case.name} has no callbacks parameter")
    counter = CountEpochs()
    X, y = case.make_data()
    est = clone(case.estimator).set_params(callbacks=[counter]).fit(X, y)
    histories = _histories(est.history_)
    assert histories, f"{case.name}.history_ holds no skorch History"
    # the skorch nets' histories (hand-written loops keep the same shape, but
    # run no callbacks): skorch records every epoch's batch count
    histories = [h for h in histories if len(h) and "train_batch_count" in h[-1]]
    epochs = sum(len(h) for h in histories)
    assert counter.epochs_ == epochs, (
        f"the callback saw {counter.epochs_} epochs, history_ has {epochs}"
    )
    for history in histories:
        losses = history[:, "train_loss"] if len(history) else []
        assert np.all(np.isfinite(losses))


def check_global_rng_untouched(case):
    """Fitting and predicting leave the caller's global torch, numpy and Python
    random states as they were (estimators seed inside their own forked RNG)."""
    import random

    import torch

    X, y = case.make_data()  # building data (torch modules) may draw: not ours
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    py_state = random.getstate()
    case.output(clone(case.estimator).fit(X, y), X, y)
    assert py_state == random.getstate(), f"{case.name} advanced Python's random"
    assert torch.equal(torch_state, torch.get_rng_state()), (
        f"{case.name} advanced the global torch RNG"
    )
    after = np.random.get_state()
    assert np_state[0] == after[0] and np.array_equal(np_state[1], after[1]), (
        f"{case.name} advanced the global numpy RNG"
    )
    assert np_state[2:] == after[2:], f"{case.name} advanced the global numpy RNG"


def check_interrupt_changes_nothing(case):
    """Ctrl-C in the middle of an epoch (a callback raising ``KeyboardInterrupt``)
    propagates out of ``fit``; an unfitted estimator stays unfitted and a fitted
    one keeps the model it had."""
    from skorch.callbacks import Callback

    class Interrupt(Callback):
        def on_batch_end(self, net, training=False, **kwargs):
            if training:
                raise KeyboardInterrupt

    def interrupted_fit(est):
        est.set_params(callbacks=[Interrupt()])
        try:
            est.fit(X, y)
        except KeyboardInterrupt:
            return est
        raise AssertionError(f"{case.name}.fit swallowed KeyboardInterrupt")

    X, y = case.make_data()
    est = interrupted_fit(clone(case.estimator))
    try:
        case.output(est, X, y)
    except NotFittedError:
        pass
    else:
        raise AssertionError(f"{case.name} is fitted after an interrupted fit")
    est, expected = _fit_and_output(case)
    _assert_same(expected, case.output(interrupted_fit(est), X, y))


API_CHECKS = [
    check_clone_and_params,
    check_not_fitted,
    check_fit_returns_self_and_keeps_params,
    check_joblib_roundtrip,
    check_save_load_roundtrip,
    check_same_seed_same_predictions,
    check_declared_parameters,
    check_callbacks_see_every_epoch,
    check_global_rng_untouched,
    check_interrupt_changes_nothing,
]
