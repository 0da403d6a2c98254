"""Relational reasoning and rule discovery: R5, with neural baselines."""

from sklearn_suite.reasoning._baselines import PathLSTMClassifier, StoryGNNClassifier
from sklearn_suite.reasoning._r5 import R5RuleLearner

__all__ = ["PathLSTMClassifier", "R5RuleLearner", "StoryGNNClassifier"]
