"""The LA3 row of ``sklearn-suite demo``."""

from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from sklearn_suite import SGSConvClassifier
from sklearn_suite.augment._la3 import LabelAwareAugmenter, policy_op_frequency
from sklearn_suite.augment._plot import plot_policy
from sklearn_suite.datasets import make_orientation_shapes


def run_demo(output_dir, *, quick=False, random_state=0, verbose=0):
    """Orientation shapes: a classifier trained with LA3's label-aware policy
    against the same classifier trained with the label-agnostic LA3 policy."""
    X, y = make_orientation_shapes(
        280 if quick else 1050,
        size=16 if quick else 24,
        random_state=random_state,
        return_X_y=True,
    )
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.5, stratify=y, random_state=random_state
    )
    search = dict(
        proxy_epochs=2 if quick else 15,
        n_init=3 if quick else 20,
        n_rounds=3 if quick else 40,
        queue_size=3 if quick else 10,
        n_members=2 if quick else 5,
        top_k=5 if quick else 20,
        random_state=random_state,
        verbose=verbose,
    )
    params = dict(
        max_epochs=2 if quick else 20, random_state=random_state, verbose=verbose
    )
    aware = SGSConvClassifier(augmenter=LabelAwareAugmenter(**search), **params)
    agnostic = SGSConvClassifier(
        augmenter=LabelAwareAugmenter(label_aware=False, **search), **params
    )
    aware.fit(X_train, y_train)
    agnostic.fit(X_train, y_train)
    picture = Path(output_dir) / "la3_policy.png"
    fig = plot_policy(aware.augmenter_, title="LA3 policy: op share per label")
    fig.savefig(picture, dpi=120, bbox_inches="tight")
    rotate = policy_op_frequency(aware.augmenter_.policy_)["Rotate"]
    bars = np.mean([v for k, v in rotate.items() if k.startswith("bar")])
    shapes = np.mean([v for k, v in rotate.items() if not k.startswith("bar")])
    return {
        "method": "LabelAwareAugmenter (LA3)",
        "data": f"orientation shapes, {len(X_train)} train "
        f"(Rotate share: shapes {shapes:.2f}, bars {bars:.2f})",
        "metric": "accuracy",
        "ours": aware.score(X_test, y_test),
        "baseline": agnostic.score(X_test, y_test),
        "baseline_name": "label-agnostic LA3",
        "pictures": [str(picture)],
    }
