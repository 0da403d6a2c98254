"""Helpers shared by the benchmark scripts."""

import json

import numpy as np
import torch
from sklearn.base import BaseEstimator


def summarise(values):
    """Mean, sample std and the rounded values, for a results table."""
    values = np.asarray(values, float)
    return {
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "values": values.round(4).tolist(),
    }


def seed_columns(frame):
    """The digits NAS table's per-training-seed accuracy columns."""
    return sorted(c for c in frame if c.startswith("accuracy_seed"))


def rank_reliability(runs):
    """How far repeated measurements of the same labels agree: Spearman between
    every pair of runs, their mean (one run's reliability), and the Spearman-Brown
    reliability of the mean of all runs. A predictor's Spearman with the mean
    cannot be expected above about the square root of the latter."""
    from itertools import combinations

    from sklearn_suite.metrics import spearman_score

    pairs = [spearman_score(a, b) for a, b in combinations(runs, 2)]
    r, k = float(np.mean(pairs)), len(runs)
    return {
        "pairwise": pairs,
        "mean_pairwise": r,
        "mean_of_runs": k * r / (1 + (k - 1) * r) if r > -1 / (k - 1) else np.nan,
    }


SVD_RANKS = (5, 10, 20, 50, 100)


def puresvd_by_rank(train, valid, joint, score):
    """``{rank: score(model, valid)}`` of PureSVD fit on ``train`` at each of
    ``SVD_RANKS``; ``score`` returns ``{domain: {"ndcg10": ..., ...}}``."""
    from sklearn_suite.recommend import PureSVDRecommender

    return {
        rank: score(
            PureSVDRecommender(n_components=rank, joint=joint, random_state=0).fit(
                train
            ),
            valid,
        )
        for rank in SVD_RANKS
    }


def best_rank(by_rank, domain):
    """The rank with the best validation NDCG@10 in ``domain``."""
    return max(SVD_RANKS, key=lambda r: by_rank[r][domain]["ndcg10"])


def tuned_puresvd(train, valid, known, test, joint, score):
    """PureSVD for each domain of ``test`` at the rank with the best validation
    NDCG@10 there (fit on ``train``, scored on ``valid``), refit on ``known`` and
    scored on the domain's ``test`` rows, with ``"rank"`` added."""
    from sklearn_suite.recommend import PureSVDRecommender

    by_rank = puresvd_by_rank(train, valid, joint, score)
    out = {}
    for domain in test.domain.unique():
        key = str(domain)
        rank = best_rank(by_rank, key)
        model = PureSVDRecommender(n_components=rank, joint=joint, random_state=0)
        out[key] = {
            **score(model.fit(known), test[test.domain == domain])[key],
            "rank": rank,
        }
    return out


def with_stored_scale(summary_path, scale_path):
    """The stored summary at ``summary_path`` with the scale run of
    ``scale_path`` folded in when it exists (written back): for refreshing a
    benchmark's scale row without rerunning its quality part."""
    result = json.loads(summary_path.read_text())
    if scale_path.exists():
        result["scale"] = json.loads(scale_path.read_text())
        summary_path.write_text(json.dumps(result, indent=1))
    return result


class KorniaAutoAugmenter(BaseEstimator):
    """kornia's RandAugment / TrivialAugment behind the augment(X, y) interface.

    kornia's auto-augment modules draw one sub-policy per call and apply it to the
    whole batch, while RandAugment and TrivialAugment draw ops per image. Calling
    kornia once per image costs about 4 ms an image here (more than the training
    step), so the wrapper calls it on groups of ``group`` images: a new sub-policy
    every 4 images instead of every image.
    """

    def __init__(self, kind="randaugment", n=2, m=5, group=4):
        self.kind = kind
        self.n = n
        self.m = m
        self.group = group

    def fit(self, X, y):
        return self

    def augment(self, X, y, random_state=None):
        from kornia.augmentation.auto import RandAugment, TrivialAugment

        op = (
            RandAugment(n=self.n, m=self.m)
            if self.kind == "randaugment"
            else TrivialAugment()
        )
        x = torch.from_numpy(np.ascontiguousarray(X))
        grey = x.shape[1] == 1
        x = x.expand(-1, 3, -1, -1) if grey else x  # the policies expect RGB
        out = torch.cat([op(chunk) for chunk in x.split(self.group)])
        out = out.mean(1, keepdim=True) if grey else out
        return out.clamp(0, 1).numpy().astype(X.dtype)
