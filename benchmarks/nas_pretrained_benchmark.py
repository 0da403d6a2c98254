"""GENNAPE pretrained on real labels, against the free signals, on held-out families.

Protocol (issue 22): leave one family out. Every pretraining set holds each
family's accuracy standardised within the family
(:func:`sklearn_suite.nas.pretraining_set`) and is fitted with the families as
``groups`` (graph features standardised per family, families weighted equally):

- a digits target (``mbconv``, ``resnet``, ``inception``): pretrained on all
  15,625 NAS-Bench-201-space cells with CIFAR-10 accuracy (``analog-nasbench``),
  the digits ``cell201`` family and the other two digits families;
- ``nb201`` (the 300 cells whose zero-cost proxies are cached in
  ``results/nb201_baselines_300.json``): pretrained on the four digits families
  only, so no NB-201 label is seen.

Each target is ranked zero-shot, and after ``fine_tune(restandardise=True)`` on 20
of its networks (tested on the rest; MAE against "predict the mean of the 20").
Free signals on the same networks: FLOPs, parameters, synflow, jacov, and a
ridge regression on the same four per-family standardised graph features trained
on the same pretraining set (what the features alone transfer). Arms ablate the
graph-level features and the ranking losses. The digits families' split-half
label reliability (Spearman between the two training seeds' accuracies) is the
ceiling beside them.

    python benchmarks/nas_pretrained_benchmark.py --seeds 0,1,2,3,4 --arms gennape
    python benchmarks/nas_pretrained_benchmark.py --seeds 0,1 --tag ablation \
        --arms no_graph_features,global_features,pairwise,listwise
    python benchmarks/nas_pretrained_benchmark.py --quick   # CI-sized smoke run

Writes benchmarks/results/gennape_pretrained.json and .md (tagged runs are
merged into them).
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from _common import summarise
from sklearn.linear_model import Ridge

from sklearn_suite.datasets import load_digits_nas
from sklearn_suite.metrics import spearman_score
from sklearn_suite.nas import (
    PRETRAIN_FAMILIES,
    PRETRAIN_PARAMS,
    GENNAPERegressor,
    family_graphs,
    pretraining_set,
)
from sklearn_suite.nas._training import (
    family_standardised,
    feature_matrix,
    group_balanced_weights,
)

RESULTS = Path(__file__).parent / "results"
TARGETS = ("mbconv", "resnet", "inception", "nb201")
BASELINES = ("flops", "params", "synflow", "jacov")
ARMS = {
    "gennape": dict(),
    "no_graph_features": dict(graph_features="none"),
    "global_features": dict(graph_features="global"),
    "pairwise": dict(loss="pairwise"),
    "listwise": dict(loss="listwise"),
}
QUICK_PARAMS = dict(cl_max_epochs=1, max_epochs=3, batch_size=32, finetune_max_epochs=3)
K = 20


def load_target(name, quick):
    """Graphs, accuracies, free signals and label reliability of a target."""
    if name == "nb201":
        graphs, y = family_graphs("nb201", n=300, random_state=0)
        cached = json.loads((RESULTS / "nb201_baselines_300.json").read_text())
        base = {b: np.array(cached[b]) for b in BASELINES}
        reliability = None
    else:
        data = load_digits_nas(families=[name])
        graphs, y = family_graphs(name)
        base = {b: data.frame[b].to_numpy() for b in BASELINES}
        reliability = spearman_score(
            data.frame["accuracy_seed0"], data.frame["accuracy_seed1"]
        )
    n = 60 if quick else len(y)
    return {
        "graphs": graphs[:n],
        "y": y[:n],
        "baselines": {b: v[:n] for b, v in base.items()},
        "reliability": reliability,
    }


def sources_of(target):
    """The pretraining families of a target: every other family; no NB-201 label
    for the NB-201 target."""
    return tuple(f for f in PRETRAIN_FAMILIES if f != target)


def evaluate(model, target, seed):
    g, y = target["graphs"], target["y"]
    out = {"zero_shot": spearman_score(y, model.predict(g))}
    perm = np.random.default_rng([seed, K]).permutation(len(y))
    ft, test = perm[:K], perm[K:]
    tuned = model.fine_tune([g[i] for i in ft], y[ft], restandardise=True)
    pred = tuned.predict([g[i] for i in test])
    out["ft20"] = spearman_score(y[test], pred)
    out["ft20_mae"] = float(np.mean(np.abs(y[test] - pred)))
    out["mean_of_20_mae"] = float(np.mean(np.abs(y[test] - y[ft].mean())))
    return out


def run(seeds, arms, params, quick):
    n_nb201 = 400 if quick else None
    targets = {t: load_target(t, quick) for t in TARGETS}
    sources = {t: pretraining_set(sources_of(t), n_nb201) for t in TARGETS}
    sizes = {t: len(source[0]) for t, source in sources.items()}
    per_seed, free = [], {}
    for name, target in targets.items():
        graphs, y, groups = sources[name]
        # the graph features as the predictor's heads read them
        ridge = Ridge(1.0).fit(
            family_standardised(feature_matrix(graphs), groups),
            y,
            sample_weight=group_balanced_weights(groups),
        )
        free[name] = {
            **{
                b: spearman_score(target["y"], target["baselines"][b])
                for b in BASELINES
            },
            "ridge_features": spearman_score(
                target["y"],
                ridge.predict(family_standardised(feature_matrix(target["graphs"]))),
            ),
            "reliability": target["reliability"],
            "n": len(target["y"]),
        }
    for seed in seeds:
        row = {}
        for arm in arms:
            for name, target in targets.items():
                graphs, y, groups = sources[name]
                t0 = time.perf_counter()
                model = GENNAPERegressor(**params, **ARMS[arm], random_state=seed)
                model.fit(graphs, y, groups=groups)
                res = evaluate(model, target, seed)
                res["fit_seconds"] = time.perf_counter() - t0
                row[f"{arm}|{name}"] = res
                print(
                    f"seed {seed} {arm} -> {name}: zero-shot {res['zero_shot']:.3f} "
                    f"ft20 {res['ft20']:.3f} ({res['fit_seconds']:.0f} s)",
                    flush=True,
                )
        per_seed.append(row)
    return per_seed, free, sizes


def write_markdown(result):
    best = {name: max(f[b] for b in BASELINES) for name, f in result["free"].items()}
    lines = [
        "# GENNAPE pretrained on NB-201-space labels (issue 22)",
        "",
        "Generated by `benchmarks/nas_pretrained_benchmark.py`. Leave one family "
        "out: a digits target is ranked by a model pretrained on all 15,625 "
        "NB-201-space cells and the other digits families; the NB-201 target (300 "
        "cells) by one pretrained on the four digits families only. "
        f"Pretraining set sizes: {result['sizes']}. Settings `{result['params']}`. "
        "Spearman on the target family, mean ± std over seeds; ft20 = fine-tuned "
        "on 20 target networks (`restandardise=True`), tested on the rest.",
        "",
        "## Free signals on the same networks",
        "",
        "| target | n | FLOPs | params | synflow | jacov | ridge on graph features "
        "| label reliability |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, f in result["free"].items():
        rel = "-" if f["reliability"] is None else f"{f['reliability']:.3f}"
        lines.append(
            f"| {name} | {f['n']} | "
            + " | ".join(f"{f[b]:.3f}" for b in BASELINES)
            + f" | {f['ridge_features']:.3f} | {rel} |"
        )
    lines += [
        "",
        "## Predictors",
        "",
        "| arm | target | seeds | zero-shot | best free signal | ft20 | ft20 MAE "
        "| mean-of-20 MAE | fit s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key in sorted({k for s in result["per_seed"].values() for k in s}):
        arm, name = key.split("|")
        rows = [s[key] for s in result["per_seed"].values() if key in s]
        stat = {m: summarise([r[m] for r in rows]) for m in rows[0]}
        lines.append(
            f"| {arm} | {name} | {len(rows)} | "
            f"{stat['zero_shot']['mean']:.3f} ± {stat['zero_shot']['std']:.3f} | "
            f"{best[name]:.3f} | "
            f"{stat['ft20']['mean']:.3f} ± {stat['ft20']['std']:.3f} "
            f"| {stat['ft20_mae']['mean']:.2f} | {stat['mean_of_20_mae']['mean']:.2f} "
            f"| {stat['fit_seconds']['mean']:.0f} |"
        )
    (RESULTS / "gennape_pretrained.md").write_text("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--arms", default="gennape")
    parser.add_argument("--tag", default="main", help="name of this run's results")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(2)
    seeds = [int(s) for s in args.seeds.split(",")]
    params = QUICK_PARAMS if args.quick else PRETRAIN_PARAMS
    per_seed, free, sizes = run(seeds, args.arms.split(","), params, args.quick)
    if args.quick:
        return
    path = RESULTS / "gennape_pretrained.json"
    result = json.loads(path.read_text()) if path.exists() else {"per_seed": {}}
    result.update(params=params, free=free, sizes=sizes)
    for seed, row in zip(seeds, per_seed):  # runs with other tags keep their rows
        result["per_seed"].setdefault(str(seed), {}).update(row)
    path.write_text(json.dumps(result, indent=1))
    write_markdown(result)


if __name__ == "__main__":
    main()
