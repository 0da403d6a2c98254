"""The GENNAPE row of ``sklearn-suite demo``."""

from pathlib import Path

import numpy as np

from sklearn_suite.datasets import build_network, load_digits_nas
from sklearn_suite.metrics import spearman_score
from sklearn_suite.nas._gennape import GENNAPERegressor
from sklearn_suite.nas._graph import to_graph
from sklearn_suite.nas._plot import plot_predicted_vs_true


def run_demo(output_dir, *, quick=False, random_state=0, verbose=0):
    """Fit GENNAPE on the cell201 family of the micro NAS benchmark, predict the
    other three families zero-shot, compare with ranking by FLOPs, and save a
    predicted-versus-true scatter plot."""
    data = load_digits_nas()
    rng = np.random.default_rng(random_state)
    per_family = 40 if quick else None
    graphs, y, family, flops = [], [], [], []
    for fam in ("cell201", "mbconv", "resnet", "inception"):
        idx = np.flatnonzero(data.family == fam)
        if per_family:
            idx = rng.choice(idx, min(per_family, len(idx)), replace=False)
        graphs += [
            to_graph(build_network(data.specs[i]), data.input_shape) for i in idx
        ]
        y += list(data.target[idx])
        family += [fam] * len(idx)
        flops += list(data.frame["flops"].to_numpy()[idx])
    y, family, flops = np.array(y), np.array(family), np.array(flops)
    source = family == "cell201"
    model = GENNAPERegressor(
        cl_epochs=3 if quick else 50,
        epochs=10 if quick else 100,
        random_state=random_state,
        verbose=verbose,
    ).fit([g for g, s in zip(graphs, source) if s], y[source])
    targets = ~source
    pred = model.predict([g for g, t in zip(graphs, targets) if t])
    ours = np.mean(
        [
            spearman_score(y[targets][family[targets] == f], pred[family[targets] == f])
            for f in ("mbconv", "resnet", "inception")
        ]
    )
    base = np.mean(
        [
            spearman_score(y[family == f], flops[family == f])
            for f in ("mbconv", "resnet", "inception")
        ]
    )
    fig = plot_predicted_vs_true(
        y[targets],
        pred,
        groups=family[targets],
        title="GENNAPE fit on cell201, zero-shot on other families",
    )
    path = Path(output_dir) / "gennape_scatter.png"
    fig.savefig(path, dpi=120)
    return {
        "method": "GENNAPERegressor",
        "data": "micro NAS benchmark, fit cell201 -> 3 unseen families",
        "metric": "zero-shot Spearman (mean of 3 families)",
        "ours": float(ours),
        "baseline": float(base),
        "baseline_name": "FLOPs",
        "pictures": [str(path)],
    }
