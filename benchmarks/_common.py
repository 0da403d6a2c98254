"""Helpers shared by the benchmark scripts."""

import numpy as np


def summarise(values):
    """Mean, sample std and the rounded values, for a results table."""
    values = np.asarray(values, float)
    return {
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "values": values.round(4).tolist(),
    }
