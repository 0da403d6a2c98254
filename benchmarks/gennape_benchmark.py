"""GENNAPE benchmark: cross-family transfer on the micro NAS benchmark.

Every predictor is fit on the ``cell201`` family (80% of it; the other 20% give the
in-family score) and evaluated on the other families -- ``mbconv``, ``resnet``,
``inception`` and, when ``analog-nasbench`` is installed, a sample of real
NAS-Bench-201 cells with their CIFAR-10 accuracies -- zero-shot and after
fine-tuning on k = 20 and 50 networks of the target family (tested on the rest).
Metrics: Spearman, Kendall, NDCG@10 and MAE (accuracy points); 5 seeds.

Arms: plain k-GNN (no contrastive stage, encoder trained with the head), + CL
(contrastive encoder, one head), GENNAPE (CL + fuzzy c-means, 4 soft heads),
GENNAPE with hard cluster assignment, and the general-purpose CG + CL predictor
(one head, contrastive stage also on the unlabelled target-family networks).
Baselines computed on the same networks: FLOPs, parameters, synflow, jacov.
Speed: ``to_graph`` modules/s and ``predict`` graphs/s.

    python benchmarks/gennape_benchmark.py                    # all parts
    python benchmarks/gennape_benchmark.py --parts speed      # alone, idle machine
    python benchmarks/gennape_benchmark.py --seeds 0,1 --tag a   # split over cores

Writes benchmarks/results/gennape.json and gennape.md (``--tag`` parts are merged).
"""

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from _common import rank_reliability, seed_columns, summarise

from sklearn_suite import GENNAPERegressor
from sklearn_suite.datasets import build_network, load_digits_nas, read_nb201_analog
from sklearn_suite.metrics import kendall_score, ndcg_score_at_k, spearman_score
from sklearn_suite.nas import (
    count_params,
    graph_flops,
    jacov_score,
    synflow_score,
    to_graph,
    to_graphs,
)

RESULTS = Path(__file__).parent / "results"
SOURCE = "cell201"
TARGETS = ["mbconv", "resnet", "inception", "nb201"]
K_SHOTS = (20, 50)
N_NB201 = 300
ARMS = {
    "kgnn": dict(cl_max_epochs=0, n_clusters=1),
    "kgnn_cl": dict(n_clusters=1),
    "gennape": dict(n_clusters=4),
    "gennape_hard": dict(n_clusters=4, membership="hard"),
    "cg_cl_transductive": dict(n_clusters=1),
}
BASELINES = ("flops", "params", "synflow", "jacov")


def metrics(y, pred):
    return {
        "spearman": spearman_score(y, pred),
        "kendall": kendall_score(y, pred),
        "ndcg10": ndcg_score_at_k(y, pred, k=10),
        "mae": float(np.mean(np.abs(np.asarray(y) - pred))),
    }


def seed_agreement(frame):
    runs = [frame[c] for c in seed_columns(frame)]
    return rank_reliability(runs)["mean_pairwise"]


def load_families(quick):
    data = load_digits_nas()
    fams = {}
    for fam in ("cell201", "mbconv", "resnet", "inception"):
        mask = data.family == fam
        specs = [s for s, m in zip(data.specs, mask) if m]
        frame = data.frame[mask]
        if quick:
            specs, frame = specs[:40], frame[:40]
        fams[fam] = {
            "graphs": [to_graph(build_network(s), data.input_shape) for s in specs],
            "y": frame["accuracy"].to_numpy(),
            "baselines": {b: frame[b].to_numpy() for b in BASELINES},
            # how well one training seed ranks another: a ceiling for any predictor
            "seed_agreement": seed_agreement(frame),
        }
    try:
        nb = read_nb201_analog(n=40 if quick else N_NB201, random_state=0)
    except ImportError:
        print("analog-nasbench not installed: no NAS-Bench-201 family")
        return fams
    nets = [build_network(s) for s in nb.specs]
    graphs = [to_graph(n, nb.input_shape) for n in nets]
    fams["nb201"] = {
        "graphs": graphs,
        "y": nb.target,
        "baselines": nb201_baselines(nb, nets, graphs, quick),
    }
    return fams


def nb201_baselines(nb, nets, graphs, quick):
    """Zero-cost baselines of the NB-201 sample, cached in results/ because jacov
    through full-size NB-201 networks takes about a second each."""

    from sklearn_suite.datasets import load_digit_images

    cache = RESULTS / f"nb201_baselines_{len(nets)}.json"
    if cache.exists() and not quick:
        return {k: np.array(v) for k, v in json.loads(cache.read_text()).items()}
    # no CIFAR-10 offline: jacov on NB-201 nets uses digits resized to 3x32x32
    digits, _ = load_digit_images(size=32, return_X_y=True)
    x_real = torch.tensor(digits[:32], dtype=torch.float32).repeat(1, 3, 1, 1)
    out = {
        "flops": [graph_flops(g) for g in graphs],
        "params": [count_params(n) for n in nets],
        "synflow": [synflow_score(n, nb.input_shape) for n in nets],
        "jacov": [jacov_score(n, x_real, random_state=0) for n in nets],
    }
    if not quick:
        cache.write_text(json.dumps(out))
    return {k: np.array(v) for k, v in out.items()}


def run_seed(fams, seed, params, arms, k_shots=K_SHOTS):
    rng = np.random.default_rng(seed)
    src = fams[SOURCE]
    order = rng.permutation(len(src["y"]))
    n_train = int(0.8 * len(order))
    tr, te = order[:n_train], order[n_train:]
    X_tr = [src["graphs"][i] for i in tr]
    targets = [t for t in TARGETS if t in fams]
    unlabeled = [g for t in targets for g in fams[t]["graphs"]]
    # the same fine-tuning samples for every arm
    shots = {
        t: {
            k: np.random.default_rng([seed, k]).permutation(len(fams[t]["y"]))
            for k in k_shots
        }
        for t in targets
    }
    out = {}
    for arm in arms:
        t0 = time.perf_counter()
        model = GENNAPERegressor(**{**params, **ARMS[arm]}, random_state=seed)
        extra = unlabeled if arm == "cg_cl_transductive" else None
        model.fit(X_tr, src["y"][tr], X_unlabeled=extra)
        res = {
            "fit_seconds": time.perf_counter() - t0,
            "in_family": metrics(
                src["y"][te], model.predict([src["graphs"][i] for i in te])
            ),
        }
        for t in targets:
            g, y = fams[t]["graphs"], fams[t]["y"]
            res[t] = {"zero_shot": metrics(y, model.predict(g))}
            for k in k_shots:
                perm = shots[t][k]
                ft, test = perm[:k], perm[k:]
                tuned = model.fine_tune([g[i] for i in ft], y[ft])
                res[t][f"ft{k}"] = metrics(y[test], tuned.predict([g[i] for i in test]))
        res["seconds"] = time.perf_counter() - t0
        print(
            f"seed {seed} {arm}: {res['seconds']:.0f}s in-family "
            f"{res['in_family']['spearman']:.3f} "
            + " ".join(f"{t} {res[t]['zero_shot']['spearman']:.3f}" for t in targets),
            flush=True,
        )
        out[arm] = res
    return out


def run_baselines(fams):
    out = {}
    for t, fam in fams.items():
        out[t] = {
            b: {
                "spearman": spearman_score(fam["y"], fam["baselines"][b]),
                "kendall": kendall_score(fam["y"], fam["baselines"][b]),
                "ndcg10": ndcg_score_at_k(fam["y"], fam["baselines"][b], k=10),
            }
            for b in BASELINES
        }
        out[t]["seed_agreement"] = fam.get("seed_agreement")
    return out


def run_speed():
    data = load_digits_nas()
    nets = [build_network(s) for s in data.specs[:300]]
    to_graph(nets[0], data.input_shape)
    t0 = time.perf_counter()
    graphs = [to_graph(n, data.input_shape) for n in nets]
    to_graph_rate = len(nets) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    to_graphs(nets, data.input_shape, n_jobs=2)
    to_graphs_rate = len(nets) / (time.perf_counter() - t0)
    model = GENNAPERegressor(cl_max_epochs=5, max_epochs=5, random_state=0).fit(
        graphs[:100], data.target[:100]
    )
    many = (graphs * 10)[:3000]
    model.predict(many[:256])
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        model.predict(many)
        times.append(time.perf_counter() - t0)
    return {
        "to_graph_modules_per_s": to_graph_rate,
        "to_graphs_2_jobs_modules_per_s": to_graphs_rate,
        "predict_graphs_per_s": len(many) / float(np.median(times)),
        "mean_nodes": float(np.mean([g.num_nodes for g in graphs])),
    }


def aggregate(per_seed):
    summary = {}
    for arm in per_seed[0]:
        summary[arm] = {}
        for key, block in per_seed[0][arm].items():
            if not isinstance(block, dict):
                summary[arm][key] = summarise([s[arm][key] for s in per_seed])
                continue
            if "spearman" in block:
                summary[arm][key] = {
                    m: summarise([s[arm][key][m] for s in per_seed]) for m in block
                }
                continue
            summary[arm][key] = {
                setting: {
                    m: summarise([s[arm][key][setting][m] for s in per_seed])
                    for m in block[setting]
                }
                for setting in block
            }
    return summary


def fmt(stat):
    return f"{stat['mean']:.3f}±{stat['std']:.3f}"


def write_markdown(result):
    lines = [
        "# GENNAPE benchmark (micro NAS benchmark, fit on cell201)",
        "",
        f"Seeds: {result['seeds']}; estimator settings: `{result['params']}`.",
        "",
    ]
    summary, baselines = result["summary"], result["baselines"]
    lines += [
        "## In-family (cell201, held-out 20%)",
        "",
        "| arm | Spearman | Kendall | NDCG@10 | MAE |",
        "|---|---|---|---|---|",
    ]
    for arm, res in summary.items():
        m = res["in_family"]
        lines.append(
            f"| {arm} | {fmt(m['spearman'])} | {fmt(m['kendall'])} | "
            f"{fmt(m['ndcg10'])} | {fmt(m['mae'])} |"
        )
    lines.append("")
    for t in baselines:
        if t == SOURCE:
            continue
        lines += [
            f"## {t}",
            "",
            "| predictor | setting | Spearman | Kendall | NDCG@10 | MAE |",
            "|---|---|---|---|---|---|",
        ]
        if baselines[t].get("seed_agreement") is not None:
            lines.insert(
                len(lines) - 2,
                "Seed agreement (Spearman between two training seeds' "
                "accuracies, mean over the pairs of seeds): "
                f"{baselines[t]['seed_agreement']:.3f}\n",
            )
        for b in BASELINES:
            v = baselines[t][b]
            lines.append(
                f"| {b} | zero-shot | {v['spearman']:.3f} | "
                f"{v['kendall']:.3f} | {v['ndcg10']:.3f} | - |"
            )
        for arm, res in summary.items():
            if t not in res:
                continue
            for setting, m in res[t].items():
                lines.append(
                    f"| {arm} | {setting} | {fmt(m['spearman'])} | "
                    f"{fmt(m['kendall'])} | {fmt(m['ndcg10'])} | "
                    f"{fmt(m['mae'])} |"
                )
        lines.append("")
    if "speed" in result:
        s = result["speed"]
        lines += [
            "## Speed",
            "",
            f"- to_graph: {s['to_graph_modules_per_s']:.0f} modules/s "
            f"(mean {s['mean_nodes']:.0f} nodes); with to_graphs(n_jobs=2): "
            f"{s['to_graphs_2_jobs_modules_per_s']:.0f} modules/s",
            f"- predict: {s['predict_graphs_per_s']:.0f} graphs/s on prebuilt graphs",
            "",
        ]
    (RESULTS / "gennape.md").write_text("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--parts", default="transfer,speed")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--tag", default=None, help="write a partial result to merge")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="merge tagged partial results into gennape.json",
    )
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "gennape.json"
    if args.merge:
        parts = [
            json.loads(p.read_text()) for p in sorted(RESULTS.glob("gennape.*.json"))
        ]
        per_seed = [s for p in parts for s in p["per_seed"]]
        result = {
            **parts[0],
            "per_seed": per_seed,
            "seeds": sorted(s for p in parts for s in p["seeds"]),
        }
        if path.exists():
            result.update(
                {k: v for k, v in json.loads(path.read_text()).items() if k == "speed"}
            )
        result["summary"] = aggregate(per_seed)
        path.write_text(json.dumps(result, indent=1))
        write_markdown(result)
        return
    params = (
        dict(cl_max_epochs=5, max_epochs=10, finetune_max_epochs=5)
        if args.quick
        else dict(cl_max_epochs=50, max_epochs=100, finetune_max_epochs=100)
    )
    result = json.loads(path.read_text()) if path.exists() and not args.tag else {}
    if "transfer" in args.parts:
        fams = load_families(args.quick)
        seeds = [int(s) for s in args.seeds.split(",")]
        arms = args.arms.split(",")
        k_shots = (5, 10) if args.quick else K_SHOTS
        per_seed = [run_seed(fams, seed, params, arms, k_shots) for seed in seeds]
        result.update(
            params=params,
            seeds=seeds,
            per_seed=per_seed,
            summary=aggregate(per_seed),
            baselines=run_baselines(fams),
            sizes={t: len(f["y"]) for t, f in fams.items()},
        )
    if "speed" in args.parts:
        result["speed"] = run_speed()
        print(result["speed"])
    out = RESULTS / f"gennape.{args.tag}.json" if args.tag else path
    out.write_text(json.dumps(result, indent=1))
    if not args.tag and "summary" in result:
        write_markdown(result)


if __name__ == "__main__":
    # one thread per process: the transfer part is meant to run as two processes
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 1)))
    main()
