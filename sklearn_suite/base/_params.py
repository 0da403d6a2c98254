"""Building blocks of the estimators' ``_parameter_constraints`` (scikit-learn's
declarative parameter validation, checked by ``@_fit_context`` before any work).

Closed intervals reject NaN; the upper bound ``np.inf`` with an open end rejects
infinity, so learning rates, weights and temperatures must be finite."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

__all__ = [
    "COMMON_CONSTRAINTS",
    "FRACTION",
    "N_JOBS",
    "NON_NEGATIVE",
    "NON_NEGATIVE_INT",
    "POSITIVE",
    "POSITIVE_INT",
    "PROBABILITY",
    "StrOptions",
]

POSITIVE_INT = Interval(Integral, 1, None, closed="left")
NON_NEGATIVE_INT = Interval(Integral, 0, None, closed="left")
# finite reals: the open upper end at infinity rejects inf, closed ends reject NaN
POSITIVE = Interval(Real, 0, np.inf, closed="neither")
NON_NEGATIVE = Interval(Real, 0, np.inf, closed="left")
PROBABILITY = Interval(Real, 0, 1, closed="both")
# a share of the data held out or mixed in: 0 allowed, 1 not
FRACTION = Interval(Real, 0, 1, closed="left")

# joblib's n_jobs: -1 all cores, -2 all but one ...; 0 means nothing
N_JOBS = [
    Interval(Integral, None, -1, closed="right"),
    Interval(Integral, 1, None, closed="left"),
    None,
]

COMMON_CONSTRAINTS = {
    "device": [str, torch.device],
    "verbose": ["verbose"],
    "random_state": ["random_state"],
    "callbacks": [list, None],
}
