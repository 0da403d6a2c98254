"""The R5 row of ``sklearn-suite demo``."""

from pathlib import Path

import numpy as np

from sklearn_suite.datasets import make_kinship_stories
from sklearn_suite.reasoning._baselines import PathLSTMClassifier
from sklearn_suite.reasoning._r5 import R5RuleLearner


def run_demo(output_dir, *, quick=False, random_state=0, verbose=0):
    """Learn kinship rules from short generated stories (k = 2, 3) and answer
    longer ones (k = 4..6 or 4 when quick) against an LSTM over the relation
    path; print the best-scored learned rules and plot accuracy per k."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    train = make_kinship_stories(
        k=(2, 3), n=40 if quick else 500, random_state=random_state
    )
    ks = [4] if quick else [4, 5, 6]
    tests = {
        k: make_kinship_stories(
            k=k, n=20 if quick else 100, random_state=random_state + k
        )
        for k in ks
    }
    r5 = R5RuleLearner(
        n_invented=9, n_playouts=8 if quick else 30, n_epochs=1 if quick else 3,
        random_state=random_state, verbose=verbose,
    ).fit(train.X, train.y)  # fmt: skip
    lstm = PathLSTMClassifier(n_epochs=5 if quick else 30, random_state=random_state)
    lstm.fit(train.X, train.y)
    rules = r5.rules_.sort_values("score", ascending=False)
    rules = rules[~rules["head"].str.startswith("inv")].head(8)
    print("R5's best-scored rules (head(x, y) <- body1(x, z), body2(z, y)):")
    for body1, body2, head, score in rules.itertuples(index=False):
        print(f"  {head:>15} <- {body1}, {body2}   (score {score:.1f})")
    ours = {k: r5.score(d.X, d.y) for k, d in tests.items()}
    base = {k: lstm.score(d.X, d.y) for k, d in tests.items()}
    fig, ax = plt.subplots(figsize=(4.5, 3))
    ax.plot(ks, [ours[k] for k in ks], marker="o", label="R5 (abstain = wrong)")
    ax.plot(ks, [base[k] for k in ks], marker="s", label="LSTM over the path")
    ax.set_xlabel("story length k (trained on k = 2, 3)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(output_dir) / "r5_lengths.png"
    fig.savefig(path, dpi=120)
    return {
        "method": "R5RuleLearner",
        "data": f"generated kinship stories, train k=2,3, test k={ks[0]}..{ks[-1]}",
        "metric": "accuracy, longer stories",
        "ours": float(np.mean(list(ours.values()))),
        "baseline": float(np.mean(list(base.values()))),
        "baseline_name": "LSTM over the relation path",
        "pictures": [str(path)],
    }
