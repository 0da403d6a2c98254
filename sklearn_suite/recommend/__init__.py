"""Cross-domain recommenders: CAT-ART and RecGURU, with popularity, PureSVD and
self-attentive sequential baselines."""

from sklearn_suite.recommend._catart import CATARTRecommender
from sklearn_suite.recommend._popularity import PopularityRecommender
from sklearn_suite.recommend._protocols import (
    per_domain_metrics,
    sample_candidates,
    sampled_ranking_metrics,
)
from sklearn_suite.recommend._puresvd import PureSVDRecommender
from sklearn_suite.recommend._recguru import RecGURURecommender
from sklearn_suite.recommend._sasrec import SASRecRecommender

__all__ = [
    "CATARTRecommender",
    "PopularityRecommender",
    "PureSVDRecommender",
    "RecGURURecommender",
    "SASRecRecommender",
    "per_domain_metrics",
    "sample_candidates",
    "sampled_ranking_metrics",
]
