"""AIO-P benchmark: transfer to an unseen task and to unseen families.

On the multi-task micro NAS table (``load_digits_multitask``, 400 networks): the
base predictor is pretrained on task 1 (digit classification accuracy) of the
``cell201`` and ``mbconv`` families; AIO-P then infuses a K-Adapter trained on
task 2 *pseudo-labels* (ink segmentation mIoU from a shared head) of the same
networks. Targets, each with 20 fine-tuning networks (which also give the target
statistics) and the rest tested, 5 seeds:

- ``kp@cell201+mbconv``: task 3 (ink keypoints, PCK) -- an unseen task;
- ``kp@resnet``, ``kp@inception``: task 3 on unseen families;
- ``seg@resnet``, ``seg@inception``: task 2 ground truth on unseen families.

Task labels are the mean of three fine-tuning runs; their agreement (mean
pairwise Spearman between runs, and the Spearman-Brown reliability of the mean
of three) is reported per target as the ceiling of any predictor.

Free signals (Spearman on the test networks): FLOPs, parameters, synflow,
jacov; the practitioner's 20-shot tool: a ridge regression on the four
per-family standardised graph features, fit on the 20 labelled networks. Arms,
zero-shot (weights untouched, statistics from the 20) and fine-tuned on the 20:

- ``aiop``: AIO-P as the library ships it (K-Adapter, ``stand_flops``, graph
  features standardised per family, families passed as ``groups``);
- ``aiop_no_features``: the same with ``graph_features="none"`` (the paper's heads);
- ``aiop_proxies``: the same with synflow and jacov given as ``proxies``;
- with ``--arms``: ``kgnn`` (the plain CG predictor, ``GENNAPERegressor(n_clusters=1,
  cl_max_epochs=0)``, encoder + head fine-tuned), ``aiop_base`` (no adapter),
  ``aiop_stand``, ``aiop_none``, ``aiop_mflops`` (target-scaling ablations).

MAE is in metric points (percent).

    python benchmarks/aiop_benchmark.py --seeds 0,1,2 &    # one process per core
    python benchmarks/aiop_benchmark.py --seeds 3,4
    python benchmarks/aiop_benchmark.py --summarise

Writes benchmarks/results/aiop.json and aiop.md.
"""

import argparse
import copy
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from _common import rank_reliability, summarise
from sklearn.linear_model import Ridge

from sklearn_suite import AIOPRegressor, GENNAPERegressor
from sklearn_suite.datasets import load_digits_multitask
from sklearn_suite.metrics import kendall_score, spearman_score
from sklearn_suite.nas import to_graphs
from sklearn_suite.nas._training import family_standardised, feature_matrix

RESULTS = Path(__file__).parent / "results"
PRETRAIN_FAMILIES = ("cell201", "mbconv")
TARGETS = {
    "kp@cell201+mbconv": ("kp_pck", PRETRAIN_FAMILIES),
    "kp@resnet": ("kp_pck", ("resnet",)),
    "kp@inception": ("kp_pck", ("inception",)),
    "seg@resnet": ("seg_miou", ("resnet",)),
    "seg@inception": ("seg_miou", ("inception",)),
}
FREE_SIGNALS = ("flops", "params", "synflow", "jacov")
K_SHOT = 20
PARAMS = dict(max_epochs=40, adapter_max_epochs=40, lr=1e-3, finetune_max_epochs=100)
# AIO-P variants: (constructor overrides, adapter infused, fine-tuning modes,
# zero-cost proxies given as inputs)
AIOP_ARMS = {
    "aiop": ({}, True, ("heads", "heads+adapters"), ()),
    "aiop_no_features": ({"graph_features": "none"}, True, ("heads",), ()),
    "aiop_proxies": ({}, True, ("heads", "heads+adapters"), ("synflow", "jacov")),
    "aiop_base": ({}, False, ("heads+base",), ()),
    "aiop_stand": ({"target_transform": "stand"}, True, ("heads",), ()),
    "aiop_none": ({"target_transform": "none"}, True, ("heads",), ()),
    "aiop_mflops": ({"flops_unit": 1e6}, True, ("heads",), ()),
}
DEFAULT_ARMS = ("aiop", "aiop_no_features", "aiop_proxies")


def metrics(y, pred):
    return {
        "spearman": spearman_score(y, pred),
        "kendall": kendall_score(y, pred),
        "mae": float(np.mean(np.abs(np.asarray(y) - pred))),
    }


def load():
    data = load_digits_multitask()
    frame = data.frame
    graphs = to_graphs([data.build(s) for s in data.specs], data.input_shape)
    return frame, graphs


def splits(frame, seed):
    """Per target: the 20 fine-tuning rows and the test rows (same for every arm)."""
    out = {}
    for name, (_, families) in TARGETS.items():
        rows = np.flatnonzero(frame["family"].isin(families).to_numpy())
        perm = np.random.default_rng([seed, len(name)]).permutation(rows)
        out[name] = perm[:K_SHOT], perm[K_SHOT:]
    return out


def evaluate_targets(frame, graphs, split, zero_shot, fine_tuned):
    """``zero_shot(rows) -> predict(rows)`` made from the 20 fine-tuning networks'
    rows of ``frame``; ``fine_tuned`` maps a label to the same kind of factory;
    each predictor is scored on the test networks."""
    res = {}
    for name, (column, _) in TARGETS.items():
        ft, test = split[name]
        y = frame[column].to_numpy()
        res[name] = {}
        for label, factory in {"zero_shot": zero_shot, **fine_tuned}.items():
            predict = factory(ft, y[ft])
            res[name][label] = metrics(y[test], predict(test))
    return res


def free_signals(frame, graphs, split):
    """Spearman of the free signals on the test networks, and the 20-shot ridge on
    the per-family standardised graph features (its MAE too)."""
    features = feature_matrix(graphs)
    family = frame["family"].to_numpy()
    out = {}
    for name, (column, _) in TARGETS.items():
        ft, test = split[name]
        y = frame[column].to_numpy()
        out[name] = {
            b: {"spearman": spearman_score(y[test], frame[b].to_numpy()[test])}
            for b in FREE_SIGNALS
        }
        ridge = Ridge(1.0).fit(family_standardised(features[ft], family[ft]), y[ft])
        pred = ridge.predict(family_standardised(features[test], family[test]))
        out[name]["ridge20"] = metrics(y[test], pred)
    return out


def run_kgnn(frame, graphs, split, g_pre, acc, seed):
    kgnn = GENNAPERegressor(
        n_clusters=1, cl_max_epochs=0, max_epochs=PARAMS["max_epochs"], lr=PARAMS["lr"],
        finetune_max_epochs=PARAMS["finetune_max_epochs"], random_state=seed,
    ).fit(g_pre, acc)  # fmt: skip

    def pick(rows):
        return [graphs[i] for i in rows]

    def tuned(rows, y):
        fitted = kgnn.fine_tune(pick(rows), y, train_encoder=True)
        return lambda test: fitted.predict(pick(test))

    return evaluate_targets(
        frame, graphs, split, lambda rows, y: lambda test: kgnn.predict(pick(test)),
        {"ft20": tuned},
    )  # fmt: skip


def run_seed(frame, graphs, seed, arms):
    split = splits(frame, seed)
    pre = np.flatnonzero(frame["family"].isin(PRETRAIN_FAMILIES).to_numpy())
    g_pre = [graphs[i] for i in pre]
    acc, pseudo = (frame[c].to_numpy()[pre] for c in ("accuracy", "seg_miou_pseudo"))
    family = frame["family"].to_numpy()
    out = {"free": free_signals(frame, graphs, split)}

    def inputs(rows, proxy_columns):
        """The keyword arguments of one call on ``rows``: families, proxies."""
        kwargs = {"groups": family[rows]}
        if proxy_columns:
            kwargs["proxies"] = frame[list(proxy_columns)].to_numpy()[rows]
        return kwargs

    def tuned(model, mode, proxy_columns):
        def factory(rows, y):
            g = [graphs[i] for i in rows]
            fitted = model.fine_tune(g, y, mode=mode, **inputs(rows, proxy_columns))
            return lambda test: fitted.predict(
                [graphs[i] for i in test], **inputs(test, proxy_columns)
            )

        return factory

    for arm in arms:
        t0 = time.perf_counter()
        if arm == "kgnn":
            out[arm] = run_kgnn(frame, graphs, split, g_pre, acc, seed)
        else:
            overrides, infused, modes, proxy_columns = AIOP_ARMS[arm]
            model = AIOPRegressor(**PARAMS, **overrides, random_state=seed)
            model.fit(g_pre, acc, **inputs(pre, proxy_columns))
            if infused:
                model.infuse(
                    g_pre, pseudo, task="seg_pseudo", **inputs(pre, proxy_columns)
                )
            # zero-shot: weights untouched, target statistics from the 20 networks
            zero = copy.deepcopy(model).set_params(finetune_max_epochs=0)
            out[arm] = evaluate_targets(
                frame, graphs, split, tuned(zero, None, proxy_columns),
                {f"ft20_{mode}": tuned(model, mode, proxy_columns) for mode in modes},
            )  # fmt: skip
        out[arm]["seconds"] = time.perf_counter() - t0
        print(
            f"seed {seed} {arm} {out[arm]['seconds']:.0f}s "
            + " ".join(
                f"{t} " + "/".join(f"{v['spearman']:.2f}" for v in out[arm][t].values())
                for t in TARGETS
            ),
            flush=True,
        )
    return out


def mean_of_shots_mae(frame, seeds):
    """MAE of predicting every test network as the mean of the 20 fine-tuning
    networks' labels: what a predictor that ranks nothing scores."""
    out = {}
    for name, (column, _) in TARGETS.items():
        y = frame[column].to_numpy()
        maes = []
        for seed in seeds:
            ft, test = splits(frame, seed)[name]
            maes.append(float(np.mean(np.abs(y[test] - y[ft].mean()))))
        out[name] = summarise(maes)
    return out


def aggregate(per_seed):
    """Nested dict of summarise() over seeds for every numeric leaf (arms some
    seed has not run yet are left out)."""

    def walk(items):
        first = items[0]
        if isinstance(first, dict):
            shared = [k for k in first if all(k in item for item in items)]
            return {k: walk([item[k] for item in items]) for k in shared}
        return summarise(items)

    return walk(per_seed)


def label_reliability(frame):
    """Per target: the agreement of the label's three runs (``rank_reliability``)."""
    out = {}
    for name, (column, families) in TARGETS.items():
        rows = frame[frame["family"].isin(families)]
        rel = rank_reliability([rows[f"{column}_{i}"].to_numpy() for i in range(3)])
        rel["mean_of_3"] = rel.pop("mean_of_runs")
        out[name] = rel
    return out


def data_summary(frame):
    pre = frame[frame["family"].isin(PRETRAIN_FAMILIES)]
    cols = ["accuracy", "seg_miou", "kp_pck", "seg_miou_pseudo"]
    return {
        "ranges": {
            fam: {
                c: [float(g[c].min()), float(g[c].median()), float(g[c].max())]
                for c in cols
            }
            for fam, g in frame.groupby("family")
        },  # fmt: skip
        "reliability": label_reliability(frame),
        "pseudo_vs_truth_spearman": spearman_score(
            pre["seg_miou"], pre["seg_miou_pseudo"]
        ),
        "task_spearman": {
            f"{a}~{b}": spearman_score(frame[a], frame[b])
            for a, b in [
                ("accuracy", "seg_miou"),
                ("accuracy", "kp_pck"),
                ("seg_miou", "kp_pck"),
            ]
        },  # fmt: skip
        "seconds_per_network": {
            c: float(frame[c].mean())
            for c in ("cls_seconds", "seg_seconds", "kp_seconds", "pseudo_seconds")
        },
        "cost_ratio": float(
            frame["seg_seconds"].mean() / frame["pseudo_seconds"].mean()
        ),
    }


def fmt(stat, digits=2):
    return f"{stat['mean']:.{digits}f}±{stat['std']:.{digits}f}"


def write_markdown(result):
    s, d = result["summary"], result["data"]
    secs = d["seconds_per_network"]
    lines = [
        "# AIO-P on the multi-task micro NAS table",
        "",
        "Generated by `benchmarks/aiop_benchmark.py` "
        f"(seeds {result['seeds']}, params {result['params']}). Base pretrained on "
        "task 1 accuracy of cell201+mbconv (200 networks); K-Adapter infused with task "
        "2 pseudo-labels of the same networks; each target: 20 fine-tuning networks "
        "(also the source of the target statistics), the rest tested. Task labels "
        "are the mean of three fine-tuning runs. Spearman / MAE in metric points, "
        "mean±std over seeds.",
        "",
        "## Data",
        "",
        f"- cost per network: classification {secs['cls_seconds']:.2f} s, "
        f"segmentation ground truth {secs['seg_seconds']:.2f} s, keypoints "
        f"{secs['kp_seconds']:.2f} s, pseudo-label {secs['pseudo_seconds']:.3f} s "
        "(shared head amortised) "
        f"-> ground truth / pseudo-label = **{d['cost_ratio']:.1f}x**",
        f"- pseudo-label vs ground-truth segmentation Spearman (cell201+mbconv): "
        f"{d['pseudo_vs_truth_spearman']:.3f}",
        "- task-to-task Spearman over all 400: "
        + ", ".join(f"{k} {v:.3f}" for k, v in d["task_spearman"].items()),
        "",
        "| family | accuracy (min/median/max) | seg mIoU | kp PCK | seg pseudo |",
        "|---|---|---|---|---|",
    ]
    for fam, r in d["ranges"].items():
        lines.append(
            f"| {fam} | "
            + " | ".join("/".join(f"{v:.1f}" for v in r[c]) for c in r)
            + " |"
        )
    lines += [
        "",
        "Label reliability: Spearman between two fine-tuning runs of the same label "
        "(mean of the three pairs), and the Spearman-Brown reliability of the mean "
        "of three that the benchmark predicts; a predictor's Spearman with these "
        "labels cannot be expected above about the square root of the latter.",
        "",
        "| target | run vs run | mean of 3 | ceiling (sqrt) |",
        "|---|---|---|---|",
    ]
    for t, r in d["reliability"].items():
        ceiling = np.sqrt(max(r["mean_of_3"], 0.0))
        lines.append(
            f"| {t} | {r['mean_pairwise']:.2f} | {r['mean_of_3']:.2f} | {ceiling:.2f} |"
        )
    arms = [a for a in ("kgnn", *AIOP_ARMS) if a in s]
    first = next(iter(TARGETS))
    for metric in ("spearman", "mae"):
        lines += ["", f"## {metric}", ""]
        if metric == "spearman":
            free = [*FREE_SIGNALS, "ridge20"]
            header = ["target", *free]
        else:
            free = ["ridge20"]
            header = ["target", "mean of the 20", "ridge20"]
        cells = [(a, c) for a in arms for c in s[a][first] if c != "seconds"]
        header += [f"{a} {c}" for a, c in cells]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for t in TARGETS:
            row = [t]
            if metric == "mae":
                row.append(fmt(s["mean_of_shots_mae"][t]))
            row += [fmt(s["free"][t][b][metric]) for b in free]
            row += [fmt(s[a][t][c][metric]) for a, c in cells]
            lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "Seconds per seed (fit + infuse + all fine-tunes): "
        + ", ".join(f"{a} {s[a]['seconds']['mean']:.0f}" for a in arms),
        "",
    ]
    (RESULTS / "aiop.md").write_text("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument(
        "--arms",
        default=",".join(DEFAULT_ARMS),
        help=f"comma-separated, of kgnn,{','.join(AIOP_ARMS)}",
    )
    parser.add_argument(
        "--summarise", action="store_true", help="only merge the per-seed files"
    )
    parser.add_argument("--quick", action="store_true", help="few epochs, one seed")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    arms = args.arms.split(",")
    unknown = set(arms) - {"kgnn", *AIOP_ARMS}
    if unknown:
        parser.error(f"unknown arms {sorted(unknown)}")
    if args.quick:
        PARAMS.update(max_epochs=3, adapter_max_epochs=3, finetune_max_epochs=2)
        args.seeds = "0"
    if not args.summarise:
        torch.set_num_threads(1)
        frame, graphs = load()
        for seed in map(int, args.seeds.split(",")):
            path = RESULTS / f"aiop.seed{seed}.json"
            # arms run later join the seed's file; the free signals are the same
            res = json.loads(path.read_text()) if path.exists() else {}
            res.update(run_seed(frame, graphs, seed, arms))
            path.write_text(json.dumps(res))
    # merges every seed file present (the last of parallel runs sees them all)
    parts = sorted(RESULTS.glob("aiop.seed*.json"))
    per_seed = [json.loads(p.read_text()) for p in parts]
    frame = load_digits_multitask().frame
    result = {
        "params": PARAMS,
        "seeds": [int(p.stem.split("seed")[1]) for p in parts],
        "data": data_summary(frame),
        "per_seed": per_seed,
        "summary": aggregate(per_seed),
    }
    result["summary"]["mean_of_shots_mae"] = mean_of_shots_mae(frame, result["seeds"])
    (RESULTS / "aiop.json").write_text(json.dumps(result, indent=1))
    write_markdown(result)
    print((RESULTS / "aiop.md").read_text())


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
