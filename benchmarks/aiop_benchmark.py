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

Arms: FLOPs and params (Spearman only); the plain CG predictor (k-GNN, i.e.
``GENNAPERegressor(n_clusters=1, cl_max_epochs=0)``) pretrained on task 1 and fine-tuned
(encoder + head) on the same 20 networks; AIO-P's base without adapters; AIO-P
(K-Adapter, ``stand_flops``), zero-shot (weights untouched, statistics from the 20)
and fine-tuned in each of the four modes; target-scaling ablations (none, stand,
stand_flops with MFLOPs). MAE is in metric points (percent).

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
from _common import summarise

from sklearn_suite import AIOPRegressor, GENNAPERegressor
from sklearn_suite.datasets import load_digits_multitask
from sklearn_suite.metrics import kendall_score, spearman_score
from sklearn_suite.nas import FINETUNE_MODES, to_graphs

RESULTS = Path(__file__).parent / "results"
PRETRAIN_FAMILIES = ("cell201", "mbconv")
TARGETS = {
    "kp@cell201+mbconv": ("kp_pck", PRETRAIN_FAMILIES),
    "kp@resnet": ("kp_pck", ("resnet",)),
    "kp@inception": ("kp_pck", ("inception",)),
    "seg@resnet": ("seg_miou", ("resnet",)),
    "seg@inception": ("seg_miou", ("inception",)),
}
K_SHOT = 20
PARAMS = dict(max_epochs=40, adapter_max_epochs=40, lr=1e-3, finetune_max_epochs=100)
# AIO-P variants: (constructor overrides, fine-tuning modes)
AIOP_ARMS = {
    "aiop": ({}, FINETUNE_MODES),
    "aiop_stand": ({"target_transform": "stand"}, ("heads",)),
    "aiop_none": ({"target_transform": "none"}, ("heads",)),
    "aiop_mflops": ({"flops_unit": 1e6}, ("heads",)),
}


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
    """``zero_shot(ft_rows, y_ft) -> predictor``; ``fine_tuned`` maps a label to the
    same kind of factory; each predictor is called on the test graphs."""
    res = {}
    for name, (column, _) in TARGETS.items():
        ft, test = split[name]
        y = frame[column].to_numpy()
        g_ft, g_test = [graphs[i] for i in ft], [graphs[i] for i in test]
        res[name] = {"zero_shot": metrics(y[test], zero_shot(g_ft, y[ft])(g_test))}
        for label, factory in fine_tuned.items():
            res[name][label] = metrics(y[test], factory(g_ft, y[ft])(g_test))
    return res


def run_seed(frame, graphs, seed):
    split = splits(frame, seed)
    pre = np.flatnonzero(frame["family"].isin(PRETRAIN_FAMILIES).to_numpy())
    g_pre = [graphs[i] for i in pre]
    acc, pseudo = (
        frame["accuracy"].to_numpy()[pre],
        frame["seg_miou_pseudo"].to_numpy()[pre],
    )
    out = {"baselines": {}}
    for name, (column, _) in TARGETS.items():
        test = split[name][1]
        y = frame[column].to_numpy()[test]
        out["baselines"][name] = {
            b: {"spearman": spearman_score(y, frame[b].to_numpy()[test])}
            for b in ("flops", "params")
        }

    t0 = time.perf_counter()
    kgnn = GENNAPERegressor(
        n_clusters=1, cl_max_epochs=0, max_epochs=PARAMS["max_epochs"], lr=PARAMS["lr"],
        finetune_max_epochs=PARAMS["finetune_max_epochs"], random_state=seed,
    ).fit(g_pre, acc)  # fmt: skip
    out["kgnn"] = evaluate_targets(
        frame, graphs, split,
        lambda g, y: kgnn.predict,
        {"ft20": lambda g, y: kgnn.fine_tune(g, y, train_encoder=True).predict},
    )  # fmt: skip
    out["kgnn"]["seconds"] = time.perf_counter() - t0
    print(f"seed {seed} kgnn {out['kgnn']['seconds']:.0f}s", flush=True)

    def calibrated(model):
        """Zero-shot: weights untouched, target statistics from the 20 networks."""
        zero = copy.deepcopy(model).set_params(finetune_max_epochs=0)
        return lambda g, y: zero.fine_tune(g, y).predict

    def tuned(model, mode):
        return lambda g, y: model.fine_tune(g, y, mode=mode).predict

    t0 = time.perf_counter()
    base = AIOPRegressor(**PARAMS, random_state=seed).fit(g_pre, acc)
    out["aiop_base"] = evaluate_targets(
        frame, graphs, split, calibrated(base),
        {"ft20": tuned(base, "heads+base")},
    )  # fmt: skip
    out["aiop_base"]["seconds"] = time.perf_counter() - t0
    for arm, (overrides, modes) in AIOP_ARMS.items():
        t0 = time.perf_counter()
        model = AIOPRegressor(**PARAMS, **overrides, random_state=seed)
        model.fit(g_pre, acc).infuse(g_pre, pseudo, task="seg_pseudo")
        out[arm] = evaluate_targets(
            frame, graphs, split, calibrated(model),
            {f"ft20_{mode}": tuned(model, mode) for mode in modes},
        )  # fmt: skip
        out[arm]["seconds"] = time.perf_counter() - t0
        print(
            f"seed {seed} {arm} {out[arm]['seconds']:.0f}s "
            + " ".join(
                f"{t} {out[arm][t]['zero_shot']['spearman']:.2f}/"
                f"{out[arm][t]['zero_shot']['mae']:.2f}"
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
    """Nested dict of summarise() over seeds for every numeric leaf."""

    def walk(items):
        first = items[0]
        if isinstance(first, dict):
            return {k: walk([item[k] for item in items]) for k in first}
        return summarise(items)

    return walk(per_seed)


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
        "(also the source of the target statistics), the rest tested. Spearman / MAE "
        "in metric points, mean±std over seeds.",
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
    arms = [a for a in ("kgnn", "aiop_base", *AIOP_ARMS) if a in s]
    for metric in ("spearman", "mae"):
        lines += ["", f"## {metric}", ""]
        header = ["target"]
        if metric == "spearman":
            header += ["FLOPs", "params"]
        else:
            header += ["mean of the 20"]
        cells = [(a, c) for a in arms for c in s[a][next(iter(TARGETS))]]
        header += [f"{a} {c}" for a, c in cells]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for t in TARGETS:
            row = [t]
            if metric == "spearman":
                row += [
                    fmt(s["baselines"][t][b]["spearman"]) for b in ("flops", "params")
                ]
            else:
                row.append(fmt(s["mean_of_shots_mae"][t]))
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
        "--summarise", action="store_true", help="only merge the per-seed files"
    )
    parser.add_argument("--quick", action="store_true", help="few epochs, one seed")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    if args.quick:
        PARAMS.update(max_epochs=3, adapter_max_epochs=3, finetune_max_epochs=2)
        args.seeds = "0"
    if not args.summarise:
        torch.set_num_threads(1)
        frame, graphs = load()
        for seed in map(int, args.seeds.split(",")):
            res = run_seed(frame, graphs, seed)
            (RESULTS / f"aiop.seed{seed}.json").write_text(json.dumps(res))
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
