"""Metrics shared by the library's estimators."""

from sklearn_suite.metrics._dense import mean_iou_score, pck_score
from sklearn_suite.metrics._ranking import (
    kendall_score,
    kendall_scorer,
    ndcg_at_10_scorer,
    ndcg_score_at_k,
    spearman_score,
    spearman_scorer,
)
from sklearn_suite.metrics._recommend import (
    hit_rate_at_k,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    sampled_ndcg_at_k,
)
from sklearn_suite.metrics._spans import (
    inner_entity_recall,
    span_f1_score,
    span_precision_recall_f1,
)
from sklearn_suite.metrics._text import ocr_accuracy

__all__ = [
    "ocr_accuracy",
    "hit_rate_at_k",
    "inner_entity_recall",
    "kendall_score",
    "mean_iou_score",
    "mrr_at_k",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
    "sampled_ndcg_at_k",
    "pck_score",
    "kendall_scorer",
    "ndcg_at_10_scorer",
    "ndcg_score_at_k",
    "span_f1_score",
    "span_precision_recall_f1",
    "spearman_score",
    "spearman_scorer",
]
