"""Metrics shared by the library's estimators."""

from sklearn_suite.metrics._spans import (
    inner_entity_recall,
    span_f1_score,
    span_precision_recall_f1,
)

__all__ = ["inner_entity_recall", "span_f1_score", "span_precision_recall_f1"]
