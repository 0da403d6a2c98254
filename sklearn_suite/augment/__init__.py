"""LA3 label-aware augmentation: :class:`LabelAwareAugmenter` and its op library."""

from sklearn_suite.augment._la3 import LabelAwareAugmenter, policy_op_frequency
from sklearn_suite.augment._ops import OP_NAMES, OPS, apply_triples
from sklearn_suite.augment._plot import plot_policy
from sklearn_suite.augment._policy import (
    PolicyCollate,
    apply_policy,
    load_policy,
    save_policy,
)
from sklearn_suite.augment._search import select_policy

__all__ = [
    "OPS",
    "OP_NAMES",
    "LabelAwareAugmenter",
    "PolicyCollate",
    "apply_policy",
    "apply_triples",
    "load_policy",
    "plot_policy",
    "policy_op_frequency",
    "save_policy",
    "select_policy",
]
