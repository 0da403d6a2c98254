"""The SGS row of ``sklearn-suite demo``."""

from pathlib import Path

from sklearn.model_selection import train_test_split

from sklearn_suite.conv._plot import plot_scalings
from sklearn_suite.conv._sgs import SGSConvClassifier
from sklearn_suite.datasets import load_digit_images


def run_demo(output_dir, *, quick=False, random_state=0, verbose=0):
    """Low-data digits (32x32): SGS with mutual-information maps against plain SGD.

    Returns
    -------
    row : dict
        method, data, metric, ours, baseline, and the pictures written.
    """
    X, y = load_digit_images(size=16 if quick else 32, return_X_y=True)
    n_train = 200 if quick else 500
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=n_train, stratify=y, random_state=random_state
    )
    params = dict(
        max_epochs=3 if quick else 15, random_state=random_state, verbose=verbose
    )
    sgs = SGSConvClassifier(scaling="mi", **params).fit(X_train, y_train)
    base = SGSConvClassifier(scaling=None, **params).fit(X_train, y_train)
    picture = Path(output_dir) / "sgs_scalings.png"
    fig = plot_scalings(sgs, title="SGS maps learned from mutual information")
    fig.savefig(picture, dpi=120, bbox_inches="tight")
    return {
        "method": "SGSConvClassifier (SGS-MI)",
        "data": f"digits {X.shape[-1]}x{X.shape[-1]}, {n_train} train",
        "metric": "accuracy",
        "ours": sgs.score(X_test, y_test),
        "baseline": base.score(X_test, y_test),
        "baseline_name": "same net, plain SGD",
        "pictures": [str(picture)],
    }
