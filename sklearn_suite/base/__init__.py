"""Pieces shared by every estimator of the library.

Seeding (``random_state`` to a torch seed without touching the caller's global RNG),
device handling, image input validation, the skorch training engine every
minibatch-trained core goes through, and version-stamped persistence.
"""

from sklearn_suite.base._checks import (
    INFERENCE_DTYPES,
    InputRangeWarning,
    check_device,
    check_images,
    check_seed,
    inference_autocast,
    native_bfloat16,
    torch_seeded,
)
from sklearn_suite.base._engine import (
    ArrayCollate,
    ArrayDataset,
    DivergenceGuard,
    EpochMetric,
    EpochProgressBar,
    HandLoop,
    ItemDataset,
    LossOutput,
    TrainingDivergedError,
    atomic,
    fit_method,
    fit_net,
    make_net,
    small_cnn_classifier,
    warmup_decay,
)
from sklearn_suite.base._params import (
    COMMON_CONSTRAINTS,
    FRACTION,
    N_JOBS,
    NON_NEGATIVE,
    NON_NEGATIVE_INT,
    POSITIVE,
    POSITIVE_INT,
    PROBABILITY,
)
from sklearn_suite.base._persistence import (
    TorchEstimatorMixin,
    UnsafeModelFileError,
    load,
    save,
)

__all__ = [
    "INFERENCE_DTYPES",
    "COMMON_CONSTRAINTS",
    "FRACTION",
    "N_JOBS",
    "NON_NEGATIVE",
    "NON_NEGATIVE_INT",
    "POSITIVE",
    "POSITIVE_INT",
    "PROBABILITY",
    "ArrayCollate",
    "ArrayDataset",
    "DivergenceGuard",
    "EpochMetric",
    "EpochProgressBar",
    "HandLoop",
    "InputRangeWarning",
    "ItemDataset",
    "LossOutput",
    "TorchEstimatorMixin",
    "TrainingDivergedError",
    "UnsafeModelFileError",
    "check_device",
    "check_images",
    "atomic",
    "check_seed",
    "inference_autocast",
    "native_bfloat16",
    "fit_method",
    "fit_net",
    "load",
    "make_net",
    "small_cnn_classifier",
    "save",
    "torch_seeded",
    "warmup_decay",
]
