"""Utilities for developers and tests: estimator discovery and API checks."""
