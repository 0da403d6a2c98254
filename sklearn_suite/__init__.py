"""Recent research methods behind scikit-learn's estimator API.

Public estimators are resolved lazily so that ``import sklearn_suite`` stays fast:
torch, skorch and scikit-learn are imported only when an estimator is first used.
"""

import importlib

from sklearn_suite._version import __version__

# public name -> module that defines it
_LAZY = {
    "AIOPRegressor": "sklearn_suite.nas",
    "CATARTRecommender": "sklearn_suite.recommend",
    "GENNAPERegressor": "sklearn_suite.nas",
    "GlyphDrawGenerator": "sklearn_suite.generate",
    "LabelAwareAugmenter": "sklearn_suite.augment",
    "MulcoTagger": "sklearn_suite.ner",
    "R5RuleLearner": "sklearn_suite.reasoning",
    "RecGURURecommender": "sklearn_suite.recommend",
    "SGSConvClassifier": "sklearn_suite.conv",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sklearn_suite' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
