"""R5 benchmark: systematic generalisation on CLUTRR, rule recall, GraphLog.

CLUTRR (``--parts clutrr``): R5, an LSTM over the relation path and an R-GCN over
the story graph are trained on stories from ``make_kinship_stories`` with k in
{2, 3} and, separately, k in {2, 3, 4}, and tested on the real CLUTRR test
stories for k = 2..10 (``<data-dir>/clutrr/1.k_test.csv``, read, never copied):
accuracy per k (R5's abstentions count as wrong; their rate is reported), rule
recall against the generator's composition rules, training and inference time;
3 seeds. R5 keeps the epoch with the best accuracy on 10% of the *training*
stories (never the test files).

GraphLog (``--parts graphlog``): each world of ``<data-dir>/graphlog`` (train on
train.jsonl, test on test.jsonl): accuracy and recall of the world's rules
(config.json), one seed.

    python benchmarks/r5_benchmark.py --parts clutrr --seeds 0,1,2 --train 23 &
    python benchmarks/r5_benchmark.py --parts clutrr --seeds 0,1,2 --train 234
    python benchmarks/r5_benchmark.py --parts graphlog
    python benchmarks/r5_benchmark.py --summarise

Writes benchmarks/results/r5.json and r5.md (partial results in r5.part.*.json,
ignored by git).
"""

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from _common import summarise

from sklearn_suite.datasets import make_kinship_stories, read_clutrr, read_graphlog
from sklearn_suite.reasoning import R5RuleLearner
from sklearn_suite.reasoning._baselines import PathLSTMClassifier, StoryGNNClassifier

RESULTS = Path(__file__).parent / "results"
DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
TEST_KS = range(2, 11)
N_PER_K = 600
R5_PARAMS = dict(n_invented=9, n_playouts=30, max_epochs=4, update_every=64)
TRAIN_SETS = {"23": (2, 3), "234": (2, 3, 4)}


def rule_recall(model, truth):
    learned = set(map(tuple, model.rules_[["body1", "body2", "head"]].to_numpy()))
    truth = set(map(tuple, truth))
    return len(learned & truth) / len(truth)


def evaluate(model, tests):
    out = {}
    for k, (X, y) in tests.items():
        t0 = time.perf_counter()
        pred = model.predict(X)
        out[str(k)] = {
            "accuracy": float(
                np.mean([p is not None and p == t for p, t in zip(pred, y)])
            ),
            "abstain": float(np.mean([p is None for p in pred])),
            "seconds_per_story": (time.perf_counter() - t0) / len(X),
        }
    return out


def run_clutrr(seed, train_set, data_dir):
    data = make_kinship_stories(k=TRAIN_SETS[train_set], n=N_PER_K, random_state=seed)
    tests = {k: read_clutrr(data_dir / "clutrr" / f"1.{k}_test.csv") for k in TEST_KS}
    res = {}
    models = {
        "r5": R5RuleLearner(**R5_PARAMS, random_state=seed),
        "lstm": PathLSTMClassifier(random_state=seed),
        "rgcn": StoryGNNClassifier(random_state=seed),
    }
    for name, model in models.items():
        t0 = time.perf_counter()
        model.fit(data.X, data.y)
        res[name] = {
            "fit_seconds": time.perf_counter() - t0,
            "per_k": evaluate(model, tests),
        }
        if name == "r5":
            res[name]["rule_recall"] = rule_recall(model, data.rules.to_numpy())
            res[name]["n_rules"] = len(model.rules_)
            history = model.history_["self_play"]
            res[name]["history"] = {
                key: history[:, key]
                for key in ("epoch", "train_accuracy", "n_rules", "valid_accuracy")
                if key in history[-1]
            }
        accs = [v["accuracy"] for v in res[name]["per_k"].values()]
        print(f"  {name}: " + " ".join(f"{a:.2f}" for a in accs), flush=True)
    return res


def run_graphlog(data_dir, worlds=None, n_invented=None, seed=0):
    params = dict(R5_PARAMS) | ({"n_invented": n_invented} if n_invented else {})
    out = {}
    found = sorted(p.name for p in (data_dir / "graphlog").iterdir() if p.is_dir())
    for world in worlds or found:
        folder = data_dir / "graphlog" / world
        X, y = read_graphlog(folder / "train.jsonl")
        X_test, y_test = read_graphlog(folder / "test.jsonl")
        config = json.loads((folder / "config.json").read_text())
        truth = [(*r["body"], r["head"]) for r in config["rules"]]
        res = {}
        for name, model in (
            ("r5", R5RuleLearner(**params, random_state=seed)),
            ("lstm", PathLSTMClassifier(random_state=seed)),
        ):
            t0 = time.perf_counter()
            model.fit(X, y)
            fit_seconds = time.perf_counter() - t0
            res[name] = {
                "fit_seconds": fit_seconds,
                **evaluate(model, {"test": (X_test, y_test)})["test"],
            }
            if name == "r5":
                res[name]["rule_recall"] = rule_recall(model, truth)
                res[name]["n_rules"] = len(model.rules_)
        print(
            f"  {world}: "
            + ", ".join(f"{n} {r['accuracy']:.3f}" for n, r in res.items()),
            flush=True,
        )
        key = (
            world
            if params == R5_PARAMS
            else f"{world}, {params['n_invented']} invented"
        )
        out[key] = res
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--parts", default="clutrr,graphlog")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--train", default="23,234")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--worlds", default=None, help="GraphLog worlds (all)")
    parser.add_argument("--n-invented", type=int, default=None)
    parser.add_argument("--summarise", action="store_true")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    if not args.summarise:
        torch.set_num_threads(1)
        if "clutrr" in args.parts:
            for train_set in args.train.split(","):
                for seed in map(int, args.seeds.split(",")):
                    path = RESULTS / f"r5.part.clutrr.{train_set}.{seed}.json"
                    if path.exists():
                        continue
                    print(
                        f"train k in {TRAIN_SETS[train_set]}, seed {seed}", flush=True
                    )
                    path.write_text(
                        json.dumps(run_clutrr(seed, train_set, args.data_dir))
                    )
        if "graphlog" in args.parts:
            path = RESULTS / "r5.part.graphlog.json"
            done = json.loads(path.read_text()) if path.exists() else {}
            worlds = args.worlds.split(",") if args.worlds else None
            done |= run_graphlog(args.data_dir, worlds, args.n_invented)
            path.write_text(json.dumps(done))
    summary_all()


def summary_all():
    summary = {}
    for train_set in TRAIN_SETS:
        runs = [
            json.loads(p.read_text())
            for p in sorted(RESULTS.glob(f"r5.part.clutrr.{train_set}.*.json"))
        ]
        if not runs:
            continue
        block = {"n_seeds": len(runs)}
        for model in runs[0]:
            block[model] = {
                "fit_seconds": summarise([r[model]["fit_seconds"] for r in runs]),
                "per_k": {
                    k: {
                        m: summarise([r[model]["per_k"][k][m] for r in runs])
                        for m in runs[0][model]["per_k"][k]
                    }
                    for k in runs[0][model]["per_k"]
                },
            }
            if "rule_recall" in runs[0][model]:
                block[model]["rule_recall"] = summarise(
                    [r[model]["rule_recall"] for r in runs]
                )
                block[model]["n_rules"] = summarise([r[model]["n_rules"] for r in runs])
        summary[train_set] = block
    graphlog = RESULTS / "r5.part.graphlog.json"
    result = {
        "r5_params": R5_PARAMS,
        "n_per_k": N_PER_K,
        "clutrr": summary,
        "graphlog": json.loads(graphlog.read_text()) if graphlog.exists() else None,
    }
    (RESULTS / "r5.json").write_text(json.dumps(result, indent=1))
    write_markdown(result)
    print((RESULTS / "r5.md").read_text())


def write_markdown(result):
    lines = [
        "# R5 on CLUTRR and GraphLog",
        "",
        f"Generated by `benchmarks/r5_benchmark.py`. R5 params {result['r5_params']}; "
        f"{result['n_per_k']} generated training stories per k; test = the real "
        "CLUTRR test stories (`1.k_test.csv`, k = 2..10). Accuracy mean±std over "
        "seeds; R5's abstentions count as wrong.",
    ]
    for train_set, block in result["clutrr"].items():
        ks = list(block["r5"]["per_k"])
        lines += [
            "",
            f"## Trained on k in {TRAIN_SETS[train_set]} ({block['n_seeds']} seeds)",
            "",
            "| model | " + " | ".join(f"k={k}" for k in ks) + " | fit s |",
            "|---|" + "---|" * (len(ks) + 1),
        ]
        for model in ("r5", "lstm", "rgcn"):
            per_k = block[model]["per_k"]
            cells = [
                f"{per_k[k]['accuracy']['mean']:.2f}±{per_k[k]['accuracy']['std']:.2f}"
                for k in ks
            ]
            fit = block[model]["fit_seconds"]["mean"]
            lines.append(f"| {model} | " + " | ".join(cells) + f" | {fit:.0f} |")
        per_k = block["r5"]["per_k"]
        lines.append(
            "| r5 abstains | "
            + " | ".join(f"{per_k[k]['abstain']['mean']:.2f}" for k in ks)
            + " | |"
        )
        rr = block["r5"]["rule_recall"]
        lines += [
            "",
            f"R5 rule recall against the generator's {64} gendered composition rules: "
            f"{rr['mean']:.2f}±{rr['std']:.2f} ({block['r5']['n_rules']['mean']:.0f} "
            "rules stored); inference "
            + ", ".join(
                f"k={k} {per_k[k]['seconds_per_story']['mean']:.2f} s"
                for k in (ks[0], ks[-1])
            )
            + " per story.",
        ]
    if result["graphlog"]:
        lines += [
            "",
            "## GraphLog (train on train, test on test; one seed)",
            "",
            "| world | R5 accuracy | R5 abstains | R5 rule recall | LSTM accuracy "
            "| R5 fit s |",
            "|---|---|---|---|---|---|",
        ]
        for world, res in result["graphlog"].items():
            r5 = res["r5"]
            lines.append(
                f"| {world} | {r5['accuracy']:.3f} | {r5['abstain']:.2f} | "
                f"{r5['rule_recall']:.2f} | {res['lstm']['accuracy']:.3f} | "
                f"{r5['fit_seconds']:.0f} |"
            )
    (RESULTS / "r5.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
