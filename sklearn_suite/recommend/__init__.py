"""Cross-domain recommenders: CAT-ART."""

from sklearn_suite.recommend._catart import CATARTRecommender

__all__ = ["CATARTRecommender"]
