"""Cross-domain recommenders: CAT-ART, and a popularity baseline."""

from sklearn_suite.recommend._base import PopularityRecommender, per_domain_metrics
from sklearn_suite.recommend._catart import CATARTRecommender

__all__ = ["CATARTRecommender", "PopularityRecommender", "per_domain_metrics"]
