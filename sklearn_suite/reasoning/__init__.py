"""Relational reasoning and rule discovery: R5."""

from sklearn_suite.reasoning._r5 import R5RuleLearner

__all__ = ["R5RuleLearner"]
