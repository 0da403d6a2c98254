"""Why does MulcoTagger lose on ChiNesE? Per-epoch train and validation F1.

The 1,000 ChiNesE dev sentences are split into 800 for training and 200 for
validation (seeded); the test file is never read. Every ``--every`` epochs the
tagger being trained predicts the validation sentences and 200 of its training
sentences, so the curves show under- or overfitting for one configuration.

    python benchmarks/mulco_curves.py --arm mulco --tag defaults
    python benchmarks/mulco_curves.py --arm mulco --set hidden=256 --tag h256
    python benchmarks/mulco_curves.py --tag NAME --save m.safetensors
    python benchmarks/mulco_curves.py --tag NAME --sweep m.safetensors
        (decoding thresholds of that saved tagger on the validation sentences)

Writes benchmarks/results/mulco_curves.json (one entry per --tag, merged) and
mulco_curves.md (every tag's curve).
"""

import argparse
import ast
import json
import time
from pathlib import Path

import numpy as np
from _crf import FlatCRF
from skorch.callbacks import Callback

from sklearn_suite import MulcoTagger
from sklearn_suite.datasets import read_chinese_nested_ner
from sklearn_suite.metrics import inner_entity_recall, span_precision_recall_f1
from sklearn_suite.ner import FlatBIESTagger

RESULTS = Path(__file__).parent / "results"
ARMS = {"mulco": MulcoTagger, "flat_bies": FlatBIESTagger, "crf": FlatCRF}


def validation_split(X, y, n_valid=200, seed=0):
    order = np.random.RandomState(seed).permutation(len(X))
    valid, train = order[:n_valid], order[n_valid:]
    pick = lambda idx: ([X[i] for i in idx], [y[i] for i in idx])  # noqa: E731
    return pick(train), pick(valid)


class F1Curve(Callback):
    """Scores the tagger under training on train and validation sentences."""

    def __init__(self, tagger, train, valid, every):
        self.tagger, self.train, self.valid, self.every = tagger, train, valid, every
        self.rows = []

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history)
        if epoch % self.every and epoch != net.max_epochs:
            return
        self.tagger.net_ = net  # predict reads the net being trained
        self.score(self.tagger, epoch, float(net.history[-1, "train_loss"]))

    def score(self, tagger, epoch, train_loss):
        row = {"epoch": epoch, "train_loss": train_loss}
        for name, (X, y) in (("train", self.train), ("valid", self.valid)):
            pred = tagger.predict(X)
            p, r, f = span_precision_recall_f1(y, pred)
            row |= {f"{name}_p": p, f"{name}_r": r, f"{name}_f1": f}
            row[f"{name}_inner_r"] = inner_entity_recall(y, pred)
        self.rows.append(row)
        print(
            " ".join(
                f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                for k, v in row.items()
            ),  # fmt: skip
            flush=True,
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data/chinese_nested_ner")
    parser.add_argument("--arm", choices=ARMS, default="mulco")
    parser.add_argument("--set", nargs="*", default=[], help="param=value")
    parser.add_argument("--every", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--save", type=Path, help="write the fitted tagger here")
    parser.add_argument("--sweep", type=Path, help="a saved tagger to sweep")
    args = parser.parse_args()
    params = {k: ast.literal_eval(v) for k, v in (s.split("=", 1) for s in args.set)}
    X, y = read_chinese_nested_ner(Path(args.data_dir) / "new_eval.json")
    (Xtr, ytr), valid = validation_split(X, y)
    path = RESULTS / "mulco_curves.json"
    if args.sweep:
        results = json.loads(path.read_text())
        results[args.tag]["decoding_sweep"] = sweep(
            MulcoTagger.load(args.sweep), *valid
        )
        path.write_text(json.dumps(results, indent=1) + "\n")
        path.with_suffix(".md").write_text(markdown(results))
        return
    if args.arm == "crf":  # no epochs: one point, at the end of training
        tagger = FlatCRF(**params)
        curve = F1Curve(tagger, (Xtr[:200], ytr[:200]), valid, 1)
        start = time.perf_counter()
        tagger.fit(Xtr, ytr)
        seconds = time.perf_counter() - start
        curve.score(tagger, 0, float("nan"))
    else:
        # float32 predictions, so that curves from any machine compare
        params = {"predict_dtype": "float32", **params}
        tagger = ARMS[args.arm](random_state=args.seed, **params)
        curve = F1Curve(tagger, (Xtr[:200], ytr[:200]), valid, args.every)
        tagger.set_params(callbacks=[curve])
        start = time.perf_counter()
        tagger.fit(Xtr, ytr)
        seconds = time.perf_counter() - start
    if args.save and args.arm != "crf":
        tagger.set_params(callbacks=None).save(args.save)
    results = json.loads(path.read_text()) if path.exists() else {}
    results[args.tag] = {
        "arm": args.arm,
        "params": params,
        "seed": args.seed,
        "fit_seconds": seconds,
        "curve": curve.rows,
    }
    path.write_text(json.dumps(results, indent=1) + "\n")
    path.with_suffix(".md").write_text(markdown(results))


def sweep(tagger, X, y):
    """Validation P/R/F1 over Mulco's decoding thresholds."""
    rows = []
    for votes in (1, 2, 3):
        for conf in (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
            pred = tagger.set_params(min_votes=votes, min_confidence=conf).predict(X)
            p, r, f = span_precision_recall_f1(y, pred)
            rows.append({"min_votes": votes, "min_confidence": conf, "p": p, "r": r,
                         "f1": f, "inner_r": inner_entity_recall(y, pred)})  # fmt: skip
            print(rows[-1], flush=True)
    return rows


def markdown(results):
    lines = [
        "# MulcoTagger on ChiNesE: per-epoch F1 (diagnosis)",
        "",
        "800 dev sentences for training, 200 held out for validation (seed 0); "
        "train F1 on 200 of the training sentences. The test file is not read. "
        "`python benchmarks/mulco_curves.py --tag ...`.",
    ]
    for tag, run in results.items():
        lines += [
            "",
            f"## {tag}: {run['arm']} {run['params'] or '(defaults)'}, seed "
            f"{run['seed']}, {run['fit_seconds']:.0f} s with the evaluations",
            "",
            "| epoch | train loss | train F1 | valid P | valid R | valid F1 | "
            "valid inner R |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in run["curve"]:
            lines.append(
                f"| {r['epoch']} | {r['train_loss']:.3f} | {r['train_f1']:.3f} | "
                f"{r['valid_p']:.3f} | {r['valid_r']:.3f} | {r['valid_f1']:.3f} | "
                f"{r['valid_inner_r']:.3f} |"
            )
        if "decoding_sweep" in run:
            lines += [
                "",
                "Decoding thresholds of this tagger (validation sentences):",
                "",
                "| min_votes | min_confidence | P | R | F1 | inner R |",
                "|---|---|---|---|---|---|",
            ]
            lines += [
                f"| {r['min_votes']} | {r['min_confidence']} | {r['p']:.3f} | "
                f"{r['r']:.3f} | {r['f1']:.3f} | {r['inner_r']:.3f} |"
                for r in run["decoding_sweep"]
            ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
