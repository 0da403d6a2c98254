"""R5 benchmark: systematic generalisation on CLUTRR, error classes, training
data, search speed, GraphLog.

Every R5 here runs at its defaults (the paper's budget: 27 invented predicates,
200 playouts per move, 10 epochs, an update every 128 episodes). Baselines, in
the same script: an LSTM over the relation path and an R-GCN over the story
graph (``sklearn_suite.reasoning``).

Parts (``--parts``, comma-separated):

- ``clutrr``: protocol (a), trained on the library's generated stories
  (``make_kinship_stories(k=(2, 3, 4), n=N_PER_K)``, the default training set);
  protocol (b), trained on the real CLUTRR stories of lengths 2-4
  (``1.2_test.csv``-``1.4_test.csv``, 222 stories). Both are tested on the real
  CLUTRR test files of split data_db9b8f04 (``<data-dir>/clutrr``, read, never
  copied), k = 2..10 for (a), 5..10 for (b). Per k: accuracy (abstentions count
  as wrong), abstention rate, and every error sorted into a class (below). Rule
  recall against the generator's 64 gendered rules. R5 keeps the epoch with the
  best accuracy on 10% of its *training* stories, never a test file.
- ``data``: the generated training stories beside the real files k = 2..4:
  patterns, stories whose shortest path is shorter than k (the chain revisits
  someone), stories the 64 generator rules reduce to two answers, and stories
  whose label no order of those rules reaches.
- ``speed``: episodes per second of one self-play epoch on the default training
  set, at the defaults and at the previous session's settings. Run it with
  ``PYTHONPATH=<older checkout>`` and ``--label before`` to time older code.
- ``graphlog``: each GraphLog world, train on train.jsonl, test on test.jsonl,
  with the official code's positive reward per world (``correct_bonus``).

Error classes of a test story (``diagnose``): ``correct``; ``abstain_uncovered``
(no order of the learned rules reduces it to an observed relation: a pair was
never learned; the story's pairs without a rule are counted);
``abstain_search`` (some order would, the search did not find it);
``wrong_rules`` (no order of the learned rules reaches the label);
``wrong_order`` (one does, the search took another). Independently: ``shorter``
(the shortest path is shorter than k) and ``off_table`` (no order of the
generator's 64 rules reaches CLUTRR's label: a label R5 can only get from
rules outside the table).

    python benchmarks/r5_benchmark.py --parts data,speed
    python benchmarks/r5_benchmark.py --parts clutrr --seeds 0,1,2
    python benchmarks/r5_benchmark.py --parts graphlog
    python benchmarks/r5_benchmark.py --summarise

Writes benchmarks/results/r5.json and r5.md (partial results in r5.part.*.json,
ignored by git).
"""

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from _common import summarise

from sklearn_suite.datasets import (
    kinship_rules,
    make_kinship_stories,
    read_clutrr,
    read_graphlog,
)
from sklearn_suite.reasoning import R5RuleLearner
from sklearn_suite.reasoning._baselines import PathLSTMClassifier, StoryGNNClassifier
from sklearn_suite.reasoning._env import relation_paths

RESULTS = Path(__file__).parent / "results"
DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
TEST_KS = range(2, 11)
TRAIN_KS = (2, 3, 4)
# stories per k, chosen on generated k = 5..10 validation stories
# (random_state=1000), not on the test files
N_PER_K = 400
# the official code's v_T_pos per GraphLog world (its README)
GRAPHLOG_BONUS = {"re_0": 0.3, "re_1": 0.3, "re_2": 0.8}
# the settings of the previous benchmark (n_invented=9 then), for the speed part
OLD_SETTINGS = dict(n_invented=27, n_playouts=50, update_every=64, n_updates=5)
SHARES = ("shorter", "two_answers", "off_table")  # of the data part
# generator rules no family can show: a son has a wife, a daughter a husband
UNREALISABLE = {("son", "husband"), ("daughter", "wife")}
ERROR_CLASSES = (
    "correct", "abstain_uncovered", "abstain_search", "wrong_rules", "wrong_order",
)  # fmt: skip


def reachable(path, table, memo):
    """Every relation some order of merges by ``table`` reduces ``path`` to."""
    if len(path) == 1:
        return {path[0]}
    if path not in memo:
        out = set()
        for i in range(len(path) - 1):
            head = table.get(path[i : i + 2])
            if head is not None:
                out |= reachable(path[:i] + (head,) + path[i + 2 :], table, memo)
        memo[path] = out
    return memo[path]


def answers(story, table, memo):
    """The story's shortest relation paths and every relation some order of
    merges by ``table`` reduces one of them to."""
    paths = relation_paths(story["edges"], story["query"])
    return paths, set().union(*(reachable(p, table, memo) for p in paths))


def as_table(rules):
    """``{(body1, body2): head}`` of a rules DataFrame."""
    return {(a, b): h for a, b, h in rules[["body1", "body2", "head"]].to_numpy()}


def diagnose(model, X, y, k, pred):
    """Error classes, the pairs behind uncovered abstentions, and the
    shorter-path and off-table counts of one test file."""
    table, truth = as_table(model.rules_), as_table(kinship_rules())
    observed = set(model.relations_)
    memo, truth_memo = {}, {}
    classes, missing = Counter(), Counter()
    for story, label, p in zip(X, y, pred):
        paths, reach = answers(story, table, memo)
        _, oracle = answers(story, truth, truth_memo)
        classes["shorter"] += len(paths[0]) < k
        classes["off_table"] += label not in oracle
        if p == label:
            classes["correct"] += 1
        elif p is None and not reach & observed:
            classes["abstain_uncovered"] += 1
            missing.update(
                f"{q[i]}+{q[i + 1]}"
                for q in paths
                for i in range(len(q) - 1)
                if q[i : i + 2] not in table
            )
        elif p is None:
            classes["abstain_search"] += 1
        elif label in reach:
            classes["wrong_order"] += 1
        else:
            classes["wrong_rules"] += 1
    return dict(classes), dict(missing.most_common(8))


def wrong_rules(model):
    """Learned rules whose body is a generator rule's body but whose head is
    another observed relation, with their scores."""
    truth = as_table(kinship_rules())
    out = []
    for a, b, h, s in model.rules_[["body1", "body2", "head", "score"]].to_numpy():
        if (a, b) in truth and h != truth[(a, b)] and h in model.relations_:
            out.append([a, b, h, truth[(a, b)], round(float(s), 2)])
    return out


def rule_recall(model, truth):
    """Share of the ``(body1, body2, head)`` triples ``truth`` that ``model``
    stores."""
    learned = set(map(tuple, model.rules_[["body1", "body2", "head"]].to_numpy()))
    return len(learned & truth) / len(truth)


def clutrr_file(data_dir, k):
    return read_clutrr(data_dir / "clutrr" / f"1.{k}_test.csv")


def unseen_answers(pred, y, train_answers):
    """Accuracy of ``pred`` on the stories whose answer no training story has:
    only a rule chain can name it."""
    unseen = [i for i, label in enumerate(y) if label not in train_answers]
    if not unseen:
        return {"n_unseen_answer": 0, "accuracy_unseen_answer": None}
    return {
        "n_unseen_answer": len(unseen),
        "accuracy_unseen_answer": float(np.mean([pred[i] == y[i] for i in unseen])),
    }


def evaluate(model, tests, diagnosed, train_answers=None):
    """Per test set: accuracy, abstentions, time per story; with ``diagnosed``
    R5's error classes; with ``train_answers`` the accuracy on the stories whose
    answer no training story has."""
    out = {}
    for k, (X, y) in tests.items():
        t0 = time.perf_counter()
        pred = model.predict(X)
        row = {
            "accuracy": float(
                np.mean([p is not None and p == t for p, t in zip(pred, y)])
            ),
            "abstain": float(np.mean([p is None for p in pred])),
            "seconds_per_story": (time.perf_counter() - t0) / len(X),
        }
        if diagnosed:
            row["classes"], row["missing_pairs"] = diagnose(model, X, y, k, pred)
        if train_answers is not None:
            row |= unseen_answers(pred, y, train_answers)
        out[str(k)] = row
    return out


def run_clutrr(seed, protocol, data_dir):
    if protocol == "a":
        data = make_kinship_stories(k=TRAIN_KS, n=N_PER_K, random_state=seed)
        X, y = data.X, data.y
        test_ks = TEST_KS
    else:  # the real stories of lengths 2-4
        X, y = [], []
        for k in TRAIN_KS:
            Xk, yk = clutrr_file(data_dir, k)
            X, y = X + Xk, y + yk
        test_ks = range(5, 11)
    tests = {k: clutrr_file(data_dir, k) for k in test_ks}
    res = {}
    for name, model in (
        ("r5", R5RuleLearner(random_state=seed)),
        ("lstm", PathLSTMClassifier(random_state=seed)),
        ("rgcn", StoryGNNClassifier(random_state=seed)),
    ):
        t0 = time.perf_counter()
        model.fit(X, y)
        res[name] = {
            "fit_seconds": time.perf_counter() - t0,
            "per_k": evaluate(model, tests, diagnosed=name == "r5"),
        }
        if name == "r5":
            history = model.history_["self_play"]
            truth = set(map(tuple, kinship_rules().to_numpy()))
            res[name] |= {
                "rule_recall": rule_recall(model, truth),
                "rule_recall_realisable": rule_recall(
                    model, {t for t in truth if t[:2] not in UNREALISABLE}
                ),
                "n_rules": len(model.rules_),
                "wrong_rules": wrong_rules(model),
                "history": {
                    key: history[:, key]
                    for key in (
                        "epoch",
                        "train_accuracy",
                        "n_rules",
                        "n_unified",
                        "valid_accuracy",
                    )
                    if key in history[-1]
                },
            }
        accs = [v["accuracy"] for v in res[name]["per_k"].values()]
        print(
            f"  {name}: " + " ".join(f"{a:.2f}" for a in accs)
            + f"  ({res[name]['fit_seconds']:.0f} s)",
            flush=True,
        )  # fmt: skip
    return res


def data_stats(X, y, k):
    truth = as_table(kinship_rules())
    memo, c = {}, Counter()
    for story, label in zip(X, y):
        paths, reach = answers(story, truth, memo)
        c["shorter"] += len(paths[0]) < k
        c["two_answers"] += len(reach) > 1
        c["off_table"] += label not in reach
    patterns = {tuple(r for _, r, _ in s["edges"]) for s in X}
    return {"n": len(X), "patterns": len(patterns)} | {
        key: c[key] / len(X) for key in SHARES
    }


def run_data(data_dir, seed=0):
    out = {}
    for k in TRAIN_KS:
        gen = make_kinship_stories(k=k, n=N_PER_K, random_state=seed)
        old = make_kinship_stories(
            k=k, n=N_PER_K, revisits=False, balance=False, random_state=seed
        )
        out[str(k)] = {
            "real": data_stats(*clutrr_file(data_dir, k), k),
            "generated": data_stats(gen.X, gen.y, k),
            "generated, revisits and balance off": data_stats(old.X, old.y, k),
        }
    return out


def run_speed(label, seed=0):
    """Seconds of one self-play epoch (no validation) on the default training
    set at the defaults and at the previous settings."""
    data = make_kinship_stories(k=TRAIN_KS, n=N_PER_K, random_state=seed)
    out = {}
    for name, params in (("defaults", {}), ("previous settings", OLD_SETTINGS)):
        model = R5RuleLearner(
            **params, max_epochs=1, validation_fraction=0.0, random_state=seed
        )
        t0 = time.perf_counter()
        model.fit(data.X, data.y)
        seconds = time.perf_counter() - t0
        out[name] = {
            "seconds": seconds,
            "episodes_per_second": len(data.X) / seconds,
            "threads": torch.get_num_threads(),
        }
        print(f"  {label}, {name}: {len(data.X) / seconds:.1f} episodes/s", flush=True)
    return {label: out}


def run_graphlog(data_dir, worlds, seed=0):
    out = {}
    for world in worlds:
        folder = data_dir / "graphlog" / world
        X, y = read_graphlog(folder / "train.jsonl")
        X_test, y_test = read_graphlog(folder / "test.jsonl")
        config = json.loads((folder / "config.json").read_text())
        truth = {tuple(r["body"]) + (r["head"],) for r in config["rules"]}
        bonus = GRAPHLOG_BONUS.get(world, 0.1)
        res = {}
        for name, model in (
            ("r5", R5RuleLearner(correct_bonus=bonus, random_state=seed)),
            ("lstm", PathLSTMClassifier(random_state=seed)),
        ):
            t0 = time.perf_counter()
            model.fit(X, y)
            fit_seconds = time.perf_counter() - t0
            res[name] = {
                "fit_seconds": fit_seconds,
                "threads": torch.get_num_threads(),
                **evaluate(model, {"test": (X_test, y_test)}, False, set(y))["test"],
            }
            if name == "r5":
                res[name] |= {
                    "rule_recall": rule_recall(model, truth),
                    "n_rules": len(model.rules_),
                    "n_unified": int(sum(model.history_["self_play"][:, "n_unified"])),
                    "correct_bonus": bonus,
                }
        print(
            f"  {world}: "
            + ", ".join(f"{n} {r['accuracy']:.3f}" for n, r in res.items()),
            flush=True,
        )
        out[world] = res
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--parts", default="data,speed,clutrr,graphlog")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--protocols", default="a,b")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--worlds", default=None, help="GraphLog worlds (all)")
    parser.add_argument("--label", default="after", help="speed part: run label")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--summarise", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    RESULTS.mkdir(exist_ok=True)
    parts = [] if args.summarise else args.parts.split(",")
    if "data" in parts:
        (RESULTS / "r5.part.data.json").write_text(json.dumps(run_data(args.data_dir)))
    if "speed" in parts:
        path = RESULTS / "r5.part.speed.json"
        done = json.loads(path.read_text()) if path.exists() else {}
        path.write_text(json.dumps(done | run_speed(args.label)))
    if "clutrr" in parts:
        for protocol in args.protocols.split(","):
            for seed in map(int, args.seeds.split(",")):
                path = RESULTS / f"r5.part.clutrr.{protocol}.{seed}.json"
                if path.exists():
                    continue
                print(f"protocol ({protocol}), seed {seed}", flush=True)
                path.write_text(json.dumps(run_clutrr(seed, protocol, args.data_dir)))
    if "graphlog" in parts:
        path = RESULTS / "r5.part.graphlog.json"
        done = json.loads(path.read_text()) if path.exists() else {}
        worlds = (
            args.worlds.split(",")
            if args.worlds
            else sorted(p.name for p in (args.data_dir / "graphlog").iterdir()
                        if p.is_dir())
        )  # fmt: skip
        for world in worlds:  # stored as each finishes
            done |= run_graphlog(args.data_dir, [world])
            path.write_text(json.dumps(done))
    summary_all()


def load(name):
    path = RESULTS / f"r5.part.{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def summary_all():
    clutrr = {}
    for protocol in ("a", "b"):
        runs = [
            json.loads(p.read_text())
            for p in sorted(RESULTS.glob(f"r5.part.clutrr.{protocol}.*.json"))
        ]
        if not runs:
            continue
        block = {"n_seeds": len(runs)}
        for model in runs[0]:
            per_k = runs[0][model]["per_k"]
            block[model] = {
                "fit_seconds": summarise([r[model]["fit_seconds"] for r in runs]),
                "per_k": {
                    k: {
                        m: summarise([r[model]["per_k"][k][m] for r in runs])
                        for m in ("accuracy", "abstain", "seconds_per_story")
                    }
                    for k in per_k
                },
            }
            if model == "r5":
                for k in per_k:
                    block[model]["per_k"][k]["classes"] = dict(
                        sum((Counter(r[model]["per_k"][k]["classes"]) for r in runs),
                            Counter())
                    )  # fmt: skip
                    block[model]["per_k"][k]["missing_pairs"] = dict(
                        sum((Counter(r[model]["per_k"][k]["missing_pairs"])
                             for r in runs), Counter()).most_common(5)
                    )  # fmt: skip
                for key in ("rule_recall", "rule_recall_realisable", "n_rules"):
                    block[model][key] = summarise([r[model][key] for r in runs])
                block[model]["wrong_rules"] = [r[model]["wrong_rules"] for r in runs]
                block[model]["history"] = [r[model]["history"] for r in runs]
        clutrr[protocol] = block
    result = {
        "r5_params": R5RuleLearner().get_params(),
        "n_per_k": N_PER_K,
        "clutrr": clutrr,
        "data": load("data"),
        "speed": load("speed"),
        "graphlog": load("graphlog"),
    }
    (RESULTS / "r5.json").write_text(json.dumps(result, indent=1, default=str))
    write_markdown(result)
    print((RESULTS / "r5.md").read_text())


PROTOCOLS = {
    "a": f"(a) trained on generated stories, k in {TRAIN_KS}, {N_PER_K} per k",
    "b": "(b) trained on the real CLUTRR stories of lengths 2-4 (222 stories)",
}


def md_table(header, rows):
    """Markdown lines of a table."""
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(map(str, row)) + " |" for row in rows),
    ]


def write_markdown(result):
    params = {
        k: v
        for k, v in result["r5_params"].items()
        if k in ("n_invented", "n_playouts", "max_epochs", "update_every", "n_updates")
    }
    lines = [
        "# R5 on CLUTRR and GraphLog",
        "",
        f"Generated by `benchmarks/r5_benchmark.py`. R5 at its defaults ({params}); "
        "tests = the real CLUTRR test stories (`1.k_test.csv`, split data_db9b8f04). "
        "Accuracy mean±std over seeds; R5's abstentions count as wrong. "
        "Published R5 (NCRL paper, Table 3, trained on CLUTRR's k = 2-4 training "
        "file): 0.99 / 0.99 / 0.99 / 1.00 / 0.99 / 0.98 for k = 5..10.",
    ]
    for protocol, block in result["clutrr"].items():
        ks = list(block["r5"]["per_k"])
        lines += [
            "",
            f"## Protocol {PROTOCOLS[protocol]} ({block['n_seeds']} seeds)",
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
            + " | ".join(f"{per_k[k]['abstain']['mean']:.3f}" for k in ks)
            + " | |"
        )
        lines += [
            "",
            "R5's test stories by error class, summed over seeds "
            "(`shorter` and `off_table` cut across the classes):",
            "",
            "| class | " + " | ".join(f"k={k}" for k in ks) + " |",
            "|---|" + "---|" * len(ks),
        ]
        for cls in (*ERROR_CLASSES, "shorter", "off_table"):
            lines.append(
                f"| {cls} | "
                + " | ".join(str(per_k[k]["classes"].get(cls, 0)) for k in ks)
                + " |"
            )
        missing = sum((Counter(per_k[k]["missing_pairs"]) for k in ks), Counter())
        rr, r5 = block["r5"]["rule_recall"], block["r5"]
        real = r5["rule_recall_realisable"]
        n_realisable = len(kinship_rules()) - len(UNREALISABLE)
        never = " and ".join(
            f"{a} + {b}" for a, b in sorted(UNREALISABLE, reverse=True)
        )
        n_wrong = [len(w) for w in r5["wrong_rules"]]
        lines += [
            "",
            f"Rule recall against the generator's 64 gendered composition rules: "
            f"{rr['mean']:.3f}±{rr['std']:.3f} (against the {n_realisable} whose "
            f"body a family can show, without {never}: "
            f"{real['mean']:.3f}±{real['std']:.3f}) ({r5['n_rules']['mean']:.0f} rules "
            f"stored); stored rules contradicting a generator rule, per seed: "
            f"{n_wrong}; pairs without a rule in the stories of uncovered abstentions "
            "(all k, all seeds): "
            + (", ".join(f"{p} ({n})" for p, n in missing.most_common(6)) or "none")
            + "; inference "
            + ", ".join(
                f"k={k} {per_k[k]['seconds_per_story']['mean']:.2f} s"
                for k in (ks[0], ks[-1])
            )
            + " per story.",
        ]
    if result["data"]:
        lines += [
            "",
            "## Training stories against CLUTRR's (k = 2..4)",
            "",
            "Shares of stories; `shorter`: shortest path shorter than k (the chain "
            "revisits someone); `two_answers`: the 64 generator rules reduce the "
            "path to two relations depending on the merge order; `off_table`: no "
            "order of those rules reaches the label.",
            "",
        ]
        lines += md_table(
            ("k", "stories", "n", "patterns", *SHARES),
            [
                (k, name, row["n"], row["patterns"])
                + tuple(f"{row[c]:.3f}" for c in SHARES)
                for k, block in result["data"].items()
                for name, row in block.items()
            ],
        )
    if result["speed"]:
        lines += [
            "",
            "## Self-play speed (one epoch of self-play on generated training stories)",
            "",
            "A `before` row ran older code (its own generator and defaults, "
            "there 50 playouts and an update of 5 steps every 64 episodes) "
            "through this script with `PYTHONPATH` set to its checkout; "
            f"previous settings = {OLD_SETTINGS}.",
            "",
        ]
        lines += md_table(
            ("code", "settings", "episodes", "episodes/s", "torch threads"),
            [
                (
                    label,
                    name,
                    round(row["seconds"] * row["episodes_per_second"]),
                    f"{row['episodes_per_second']:.1f}",
                    row["threads"],
                )
                for label, block in result["speed"].items()
                for name, row in block.items()
            ],
        )
    if result["graphlog"]:
        lines += [
            "",
            "## GraphLog (train on train, test on test; one seed)",
            "",
            "`unseen answer`: the test stories whose answer is no training story's "
            "answer (n of them), which only a chain of rules can name; `unified`: "
            "invented predicates R5 unified with another predicate over its epochs.",
            "",
            "| world | R5 accuracy | R5 abstains | R5 rule recall | LSTM accuracy "
            "| unseen answer: n, R5, LSTM | unified | correct_bonus | R5 fit s "
            "| threads |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for world, res in result["graphlog"].items():
            r5, lstm = res["r5"], res["lstm"]
            unseen = "0" if not r5.get("n_unseen_answer") else (
                f"{r5['n_unseen_answer']}, {r5['accuracy_unseen_answer']:.3f}, "
                f"{lstm['accuracy_unseen_answer']:.3f}"
            )  # fmt: skip
            lines.append(
                f"| {world} | {r5['accuracy']:.3f} | {r5['abstain']:.2f} | "
                f"{r5['rule_recall']:.2f} | {lstm['accuracy']:.3f} | {unseen} | "
                f"{r5.get('n_unified', '')} | {r5.get('correct_bonus', 0.1)} | "
                f"{r5['fit_seconds']:.0f} | {r5.get('threads', '')} |"
            )
    (RESULTS / "r5.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
