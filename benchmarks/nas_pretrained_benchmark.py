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
graph-level features and the ranking losses; the ``proxies`` arm (``nb201``
target only: its pretraining families have synflow and jacov for every network)
gives both as inputs. The digits families' label reliability (Spearman between
the three training seeds' accuracies, and the Spearman-Brown reliability of their
mean, which is the label) gives the ceiling beside them, and the ``cell201``
family measures how far digits labels agree with CIFAR-10's.

    python benchmarks/nas_pretrained_benchmark.py --seeds 0,1,2,3,4 \
        --arms gennape,proxies
    python benchmarks/nas_pretrained_benchmark.py --seeds 0,1 --tag ablation \
        --arms no_graph_features,global_features,pairwise,listwise
    python benchmarks/nas_pretrained_benchmark.py --validate --seeds 0,1,2
    python benchmarks/nas_pretrained_benchmark.py --quick   # CI-sized smoke run

Writes benchmarks/results/gennape_pretrained.json and .md (tagged runs are
merged into them).

``--validate`` chooses the regression loss and the fine-tuning budget without
any target network: on two validation targets drawn from pretraining families,
``nb201_val`` (300 NB-201 cells disjoint from the ``nb201`` target's, ranked by a
model pretrained on the four digits families, as the ``nb201`` target is) and
``cell201`` (the digits NB-201-space family, never a target, ranked by a model
pretrained on the NB-201 cells and the three other digits families). Writes
``gennape_validation.json`` and ``.md``.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from _common import rank_reliability, seed_columns, summarise
from sklearn.linear_model import Ridge

from sklearn_suite.datasets import load_digits_nas
from sklearn_suite.datasets._digits_nas import read_nb201_analog
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
    "proxies": dict(),
}
# arms given zero-cost proxies as inputs; only the nb201 target's pretraining set
# (the digits families) has them for every network
PROXY_ARMS = {"proxies": ("synflow", "jacov")}
# candidates of --validate: the regression loss of the pretraining, and the
# fine-tuning budget (GENNAPE's protocol: batch 1, 100 epochs at 1e-4)
LOSSES = ("mse", "pairwise", "listwise")
FINETUNE_GRID = tuple(
    dict(finetune_max_epochs=e, finetune_lr=lr)
    for e in (10, 30, 100)
    for lr in (1e-4, 1e-3)
)
METRICS = ("zero_shot", "ft20", "ft20_mae", "mean_of_20_mae", "fit_seconds")
N_REPEATS = 2  # fine-tuning draws of 20 networks per validation model
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
        reliability = rank_reliability(
            [data.frame[c].to_numpy() for c in seed_columns(data.frame)]
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


def source_proxies(sources, columns):
    """The digits families' proxy columns, rows in pretraining-set order."""
    return np.vstack(
        [load_digits_nas(families=[f]).frame[list(columns)].to_numpy() for f in sources]
    )


def label_seeds():
    """How many training seeds the digits table's accuracies average (rows
    measured before the third seed carry none: two)."""
    return len(seed_columns(load_digits_nas().frame))


def few_shot(model, graphs, y, key, proxies=None):
    """Fine-tune a copy (``restandardise=True``) on K networks drawn with the
    seed ``key``; return those rows, the other rows and their predictions."""
    perm = np.random.default_rng(key).permutation(len(y))
    ft, test = perm[:K], perm[K:]

    def rows(idx):
        return None if proxies is None else proxies[idx]

    tuned = model.fine_tune(
        [graphs[i] for i in ft], y[ft], restandardise=True, proxies=rows(ft)
    )
    return ft, test, tuned.predict([graphs[i] for i in test], proxies=rows(test))


def evaluate(model, target, seed, columns=()):
    g, y = target["graphs"], target["y"]
    P = np.column_stack([target["baselines"][c] for c in columns]) if columns else None
    out = {"zero_shot": spearman_score(y, model.predict(g, proxies=P))}
    ft, test, pred = few_shot(model, g, y, [seed, K], P)
    out["ft20"] = spearman_score(y[test], pred)
    out["ft20_mae"] = float(np.mean(np.abs(y[test] - pred)))
    out["mean_of_20_mae"] = float(np.mean(np.abs(y[test] - y[ft].mean())))
    return out


def label_transfer():
    """What digits labels say about CIFAR-10: on the 300 cells of the digits
    ``cell201`` family (the NB-201 cell at digits scale), Spearman of their digits
    accuracy and of their FLOPs with the same cells' CIFAR-10 accuracy."""
    frame = load_digits_nas(families=["cell201"]).frame
    nb201 = read_nb201_analog()
    cifar = {tuple(s["ops"]): acc for s, acc in zip(nb201.specs, nb201.target)}
    y = np.array([cifar[tuple(json.loads(spec)["ops"])] for spec in frame.spec])
    return {
        "n": len(y),
        "digits_accuracy": spearman_score(y, frame["accuracy"]),
        "flops": spearman_score(y, frame["flops"]),
        "digits_flops": spearman_score(frame["accuracy"], frame["flops"]),
    }


def run(seeds, arms, params, quick):
    n_nb201 = 400 if quick else None
    targets = {t: load_target(t, quick) for t in TARGETS}
    sources = {t: pretraining_set(sources_of(t), n_nb201) for t in TARGETS}
    sizes = {t: len(source[0]) for t, source in sources.items()}
    n_label_seeds = label_seeds()
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
            columns = PROXY_ARMS.get(arm, ())
            for name, target in targets.items():
                if columns and name != "nb201":
                    continue
                graphs, y, groups = sources[name]
                t0 = time.perf_counter()
                model = GENNAPERegressor(**params, **ARMS[arm], random_state=seed)
                P = source_proxies(sources_of(name), columns) if columns else None
                model.fit(graphs, y, groups=groups, proxies=P)
                res = evaluate(model, target, seed, columns)
                res["finetune"] = setting_name(model.get_params())
                res["label_seeds"] = n_label_seeds
                res["fit_seconds"] = time.perf_counter() - t0
                row[f"{arm}|{name}"] = res
                print(
                    f"seed {seed} {arm} -> {name}: zero-shot {res['zero_shot']:.3f} "
                    f"ft20 {res['ft20']:.3f} ({res['fit_seconds']:.0f} s)",
                    flush=True,
                )
        per_seed.append(row)
    return per_seed, free, sizes


def validation_targets():
    """The two validation targets of --validate, with their pretraining sets."""
    graphs, y = family_graphs("nb201")  # every cell, in read_nb201_analog's order
    # the nb201 target's cells (load_target) are read_nb201_analog's n=300 sample
    test_codes = set(read_nb201_analog(n=300, random_state=0).frame["code"])
    is_test = np.array([c in test_codes for c in read_nb201_analog().frame["code"]])
    rest = np.flatnonzero(~is_test)
    val = np.sort(np.random.default_rng(1).choice(rest, 300, replace=False))
    cell_graphs, cell_y = family_graphs("cell201")
    return {
        "nb201_val": ([graphs[i] for i in val], y[val], sources_of("nb201")),
        "cell201": (cell_graphs, cell_y, ("nb201", "mbconv", "resnet", "inception")),
    }


def validate(seeds):
    """Zero-shot and 20-shot Spearman of every loss and fine-tuning budget on the
    validation targets; returns ``{target: {loss: {setting: [scores]}}}``."""
    scores = {}
    for name, (graphs, y, sources) in validation_targets().items():
        source = pretraining_set(sources)
        for seed in seeds:
            for loss in LOSSES:
                t0 = time.perf_counter()
                model = GENNAPERegressor(
                    **PRETRAIN_PARAMS, loss=loss, random_state=seed
                )
                model.fit(source[0], source[1], groups=source[2])
                row = scores.setdefault(name, {}).setdefault(loss, {})
                row.setdefault("zero_shot", []).append(
                    spearman_score(y, model.predict(graphs))
                )
                for repeat in range(N_REPEATS):
                    for setting in FINETUNE_GRID:
                        model.set_params(**setting)
                        _, test, pred = few_shot(model, graphs, y, [seed, repeat])
                        row.setdefault(setting_name(setting), []).append(
                            spearman_score(y[test], pred)
                        )
                print(
                    f"validate seed {seed} {loss} -> {name}: zero-shot "
                    f"{row['zero_shot'][-1]:.3f} ({time.perf_counter() - t0:.0f} s)",
                    flush=True,
                )
    return scores


def setting_name(setting):
    return f"ft{setting['finetune_max_epochs']}@{setting['finetune_lr']:g}"


def write_validation(scores, seeds):
    """The validation tables and the choice: the loss with the best zero-shot
    mean over both targets, then the fine-tuning budget with the best 20-shot
    mean for that loss."""
    mean = {
        (t, loss, key): float(np.mean(v))
        for t, by_loss in scores.items()
        for loss, row in by_loss.items()
        for key, v in row.items()
    }
    targets = list(scores)
    settings = [setting_name(s) for s in FINETUNE_GRID]

    def both(loss, key):
        return np.mean([mean[t, loss, key] for t in targets])

    loss = max(LOSSES, key=lambda lo: both(lo, "zero_shot"))
    budget = max(settings, key=lambda k: both(loss, k))
    lines = [
        "# GENNAPE defaults chosen on validation targets (issue 22)",
        "",
        "Generated by `benchmarks/nas_pretrained_benchmark.py --validate` (seeds "
        f"{seeds}, {N_REPEATS} draws of {K} fine-tuning networks per model). "
        "No benchmark target is scored: `nb201_val` is 300 NB-201 cells disjoint "
        "from the `nb201` target's, ranked by models pretrained on the four digits "
        "families; `cell201` is the digits NB-201-space family, ranked by models "
        "pretrained on the NB-201 cells and the other three digits families. "
        f"Digits labels: mean of {label_seeds()} training seeds. "
        "Spearman, mean over seeds and draws.",
        "",
        "| loss | setting | " + " | ".join(targets) + " | mean |",
        "|---|---|" + "---|" * (len(targets) + 1),
    ]
    for lo in LOSSES:
        for key in ["zero_shot", *settings]:
            lines.append(
                f"| {lo} | {key} | "
                + " | ".join(f"{mean[t, lo, key]:.3f}" for t in targets)
                + f" | {both(lo, key):.3f} |"
            )
    lines += [
        "",
        f"Chosen: loss `{loss}` (best zero-shot mean), fine-tuning `{budget}`.",
    ]
    (RESULTS / "gennape_validation.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "gennape_validation.json").write_text(
        json.dumps({"seeds": seeds, "scores": scores, "loss": loss, "budget": budget})
    )
    print(lines[-1])


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
        "| seed vs seed | label reliability | ceiling |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, f in result["free"].items():
        rel = f["reliability"]
        rel = (
            ["-"] * 3
            if rel is None
            else [
                f"{rel['mean_pairwise']:.3f}",
                f"{rel['mean_of_runs']:.3f}",
                f"{np.sqrt(max(rel['mean_of_runs'], 0)):.3f}",
            ]
        )
        lines.append(
            f"| {name} | {f['n']} | "
            + " | ".join(f"{f[b]:.3f}" for b in BASELINES)
            + f" | {f['ridge_features']:.3f} | "
            + " | ".join(rel)
            + " |"
        )
    lines += [
        "",
        "Seed vs seed: Spearman between two training seeds' accuracies (mean over "
        "the pairs of seeds); label reliability: the Spearman-Brown reliability of "
        "their mean, which is the label; a predictor's Spearman with the label "
        "cannot be expected above about its square root (ceiling).",
    ]
    if "label_transfer" in result:
        lt = result["label_transfer"]
        lines += [
            "",
            "## What digits labels know about CIFAR-10",
            "",
            f"On the {lt['n']} cells of the digits `cell201` family (NB-201 cells "
            "at digits scale), their digits accuracy ranks the same cells' CIFAR-10 "
            f"accuracy at Spearman {lt['digits_accuracy']:.3f}, their FLOPs at "
            f"{lt['flops']:.3f}; FLOPs rank the digits accuracy at "
            f"{lt['digits_flops']:.3f}. The digits tasks reward other cells than "
            "CIFAR-10 does, so a predictor taught by digits labels alone (the "
            "`nb201` target's pretraining) learns preferences CIFAR-10 does not "
            "share, and zero-shot cannot be expected to beat FLOPs or jacov there.",
        ]
    lines += [
        "",
        "## Predictors",
        "",
        "| arm | target | digits labels | seeds | zero-shot | best free signal "
        "| ft20 | fine-tuning | ft20 MAE | mean-of-20 MAE | fit s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    groups = {}
    for row in result["per_seed"].values():
        for key, r in row.items():
            groups.setdefault((*key.split("|"), r.get("label_seeds", 2)), []).append(r)
    # the current labels' rows first; rows on older labels are not comparable
    current = label_seeds()
    for (arm, name, n_seeds), rows in sorted(
        groups.items(), key=lambda item: (item[0][2] != current, item[0])
    ):
        stat = {m: summarise([r[m] for r in rows]) for m in METRICS}
        budget = ", ".join(sorted({r["finetune"] for r in rows}))
        lines.append(
            f"| {arm} | {name} | {n_seeds} | {len(rows)} | "
            f"{stat['zero_shot']['mean']:.3f} ± {stat['zero_shot']['std']:.3f} | "
            f"{best[name]:.3f} | "
            f"{stat['ft20']['mean']:.3f} ± {stat['ft20']['std']:.3f} | {budget} "
            f"| {stat['ft20_mae']['mean']:.2f} | {stat['mean_of_20_mae']['mean']:.2f} "
            f"| {stat['fit_seconds']['mean']:.0f} |"
        )
    lines += [
        "",
        "Digits labels: how many training seeds the digits accuracies averaged when "
        "the row was measured (the labels of a digits target and of every digits "
        "pretraining family); the free signals and the reliability above are "
        f"for the current {current}-seed labels.",
    ]
    (RESULTS / "gennape_pretrained.md").write_text("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--arms", default="gennape")
    parser.add_argument("--tag", default="main", help="name of this run's results")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--validate", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(2)
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.validate:
        write_validation(validate(seeds), seeds)
        return
    params = QUICK_PARAMS if args.quick else PRETRAIN_PARAMS
    per_seed, free, sizes = run(seeds, args.arms.split(","), params, args.quick)
    if args.quick:
        return
    path = RESULTS / "gennape_pretrained.json"
    result = json.loads(path.read_text()) if path.exists() else {"per_seed": {}}
    result.update(
        params=params, free=free, sizes=sizes, label_transfer=label_transfer()
    )
    for seed, row in zip(seeds, per_seed):  # runs with other tags keep their rows
        result["per_seed"].setdefault(str(seed), {}).update(row)
    path.write_text(json.dumps(result, indent=1))
    write_markdown(result)


if __name__ == "__main__":
    main()
