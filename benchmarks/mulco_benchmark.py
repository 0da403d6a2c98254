"""Mulco benchmark: nested NER on ChiNesE beside the tools a practitioner has.

Arms, every estimator at its default settings:

- ``crf``: a flat linear-chain CRF over character uni/bi/tri-gram window
  features (sklearn-crfsuite), BIES over the outermost entities: the classic
  practitioner's tool;
- ``flat_bies``: the flat BIES tagger with Mulco's encoder (``flat_bies_e50``:
  the same for Mulco's 50 epochs instead of its default 30, a control);
- ``span_enum``: span enumeration with Mulco's encoder (negative sampling);
- ``mulco``: MulcoTagger; ``mulco_B`` / ``mulco_BE``: its scope ablations.

Metrics: micro precision, recall and F1 (exact span and type over all entities,
nested included), recall of inner (nested) entities, fit seconds. Protocols:

- ``main``: train on the 1,000 ChiNesE dev sentences, test on the 1,500 test
  sentences (the issue's protocol);
- ``curve``: the same test set, training on the first 250 / 500 / 1,000 dev
  sentences;
- ``more_data`` (a second protocol, labelled so): train on dev + test sentences
  1-1,000, test on test sentences 1,001-1,500;
- ``generated``: 500 generated sentences, 500 held out.

The files are read from --data-dir, never copied. Every (protocol, arm, size,
seed) row is stored as it finishes, so a long run can be split over processes
or resumed (rows already in the JSON are skipped unless --redo).

    python benchmarks/mulco_benchmark.py --protocols main --arms crf,mulco
    python benchmarks/mulco_benchmark.py --quick

Writes benchmarks/results/mulco.json and mulco.md.
"""

import argparse
import ast
import json
import time
from pathlib import Path

import numpy as np
from _common import summarise
from _crf import FlatCRF

from sklearn_suite import MulcoTagger
from sklearn_suite.base import native_bfloat16
from sklearn_suite.datasets import make_nested_ner, read_chinese_nested_ner
from sklearn_suite.metrics import inner_entity_recall, span_precision_recall_f1
from sklearn_suite.ner import (
    FlatBIESTagger,
    SpanEnumerationTagger,
    decode_scopes,
    encode_scopes,
    flat_subset,
)

RESULTS = Path(__file__).parent / "results"
ARMS = {
    "crf": lambda seed, **kw: FlatCRF(),
    "flat_bies": lambda seed, **kw: FlatBIESTagger(random_state=seed, **kw),
    # the flat tagger given Mulco's epoch budget (a control: its default is 30)
    "flat_bies_e50": lambda seed, **kw: FlatBIESTagger(
        random_state=seed, **{"max_epochs": 50, **kw}
    ),
    "span_enum": lambda seed, **kw: SpanEnumerationTagger(random_state=seed, **kw),
    "mulco": lambda seed, **kw: MulcoTagger(random_state=seed, **kw),
    "mulco_B": lambda seed, **kw: MulcoTagger(scopes="B", random_state=seed, **kw),
    "mulco_BE": lambda seed, **kw: MulcoTagger(scopes="BE", random_state=seed, **kw),
}
SIZES = (250, 500, 1000)


def oracle(X, y):
    out = {}
    for scopes in ("B", "BE", "BEC"):
        found = [
            decode_scopes(len(x), encode_scopes(len(x), e, scopes=scopes))
            for x, e in zip(X, y)
        ]
        out[scopes] = span_precision_recall_f1(y, found)[1]
    flat = [flat_subset(e) for e in y]
    out["flat_ceiling_recall"] = span_precision_recall_f1(y, flat)[1]
    return out


def predict_rate(tagger, X, runs=3):
    """Median sentences per second of ``tagger.predict(X)`` (the shared VM's
    speed varies from run to run) and the last prediction."""
    tagger.predict(X[:64])  # warm-up
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        pred = tagger.predict(X)
        rates.append(len(X) / (time.perf_counter() - start))
    return float(np.median(rates)), pred


def scores(yt, pred):
    p, r, f = span_precision_recall_f1(yt, pred)
    return {
        "precision": p,
        "recall": r,
        "f1": f,
        "inner_recall": inner_entity_recall(yt, pred),
    }


def evaluate(arm, seed, X, y, Xt, yt, params):
    start = time.perf_counter()
    tagger = ARMS[arm](seed, **({} if arm == "crf" else params)).fit(X, y)
    fit_seconds = time.perf_counter() - start
    rate, pred = predict_rate(tagger, Xt)
    row = {**scores(yt, pred), "fit_seconds": fit_seconds, "predict_per_second": rate}
    if hasattr(tagger, "predict_dtype"):
        # the same fitted tagger predicting in float32 (the default is "auto":
        # bfloat16 where the CPU has it natively)
        row["native_bfloat16"] = native_bfloat16(tagger.net_.device)
        rate, pred = predict_rate(tagger.set_params(predict_dtype="float32"), Xt)
        row["f1_float32"] = scores(yt, pred)["f1"]
        row["predict_per_second_float32"] = rate
    return row


def load(path):
    return json.loads(path.read_text()) if path.exists() else {"rows": {}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data/chinese_nested_ner")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--protocols", default="main,curve,more_data,generated")
    parser.add_argument("--arms", default="crf,flat_bies,span_enum,mulco")
    parser.add_argument("--set", nargs="*", default=[], help="param=value (all arms)")
    parser.add_argument("--redo", action="store_true")
    args = parser.parse_args()
    seeds = [0] if args.quick else [int(s) for s in args.seeds.split(",")]
    params = {k: ast.literal_eval(v) for k, v in (a.split("=", 1) for a in args.set)}
    if args.quick:
        params.setdefault("max_epochs", 1)
    data_dir = Path(args.data_dir)
    X_dev, y_dev = read_chinese_nested_ner(data_dir / "new_eval.json")
    X_test, y_test = read_chinese_nested_ner(data_dir / "new_test.json")
    X_gen, y_gen = make_nested_ner(500, random_state=0)
    Xt_gen, yt_gen = make_nested_ner(500, random_state=1)
    cut = 60 if args.quick else None
    protocols = {
        "main": (X_dev[:cut], y_dev[:cut], X_test[:cut], y_test[:cut]),
        "more_data": (
            X_dev[:cut] + X_test[:1000][:cut],
            y_dev[:cut] + y_test[:1000][:cut],
            X_test[1000:][:cut],
            y_test[1000:][:cut],
        ),
        "generated": (X_gen[:cut], y_gen[:cut], Xt_gen[:cut], yt_gen[:cut]),
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"mulco{'_quick' if args.quick else ''}.json"

    oracles = {
        "chinese_test": oracle(X_test, y_test),
        "generated_test": oracle(Xt_gen, yt_gen),
    }
    jobs = []
    for protocol in args.protocols.split(","):
        if protocol == "curve":
            for size in SIZES[:-1]:  # 1,000 is the main protocol
                data = (X_dev[:size], y_dev[:size], X_test[:cut], y_test[:cut])
                jobs.append((f"curve_{size}", data))
        else:
            jobs.append((protocol, protocols[protocol]))
    for name, (X, y, Xt, yt) in jobs:
        for arm in args.arms.split(","):
            for seed in seeds:
                key = f"{name}/{arm}/{seed}"
                results = load(path)  # other processes may have written rows
                if key in results["rows"] and not args.redo:
                    continue
                row = evaluate(arm, seed, X, y, Xt, yt, params)
                print(key, {k: round(v, 4) for k, v in row.items()}, flush=True)
                results = load(path)
                results["rows"][key] = row
                results["settings"] = {"params": params, "quick": args.quick}
                results["oracle"] = oracles
                path.write_text(json.dumps(results, indent=1) + "\n")
    print(write_markdown(path, load(path)))


def write_markdown(path, results):
    """The tables of ``results`` beside its JSON file (``.md``); returns them."""
    text = markdown(results)
    path.with_suffix(".md").write_text(text)
    return text


TITLES = {
    "main": "ChiNesE: train on the 1,000 dev sentences, test on the 1,500 test ones",
    "curve_250": "Learning curve: first 250 dev sentences, same test set",
    "curve_500": "Learning curve: first 500 dev sentences, same test set",
    "more_data": "Second protocol (more data): train on dev + test sentences "
    "1-1,000 (2,000), test on test sentences 1,001-1,500",
    "generated": "Generated sentences (train 500, test 500)",
}
ARM_NAMES = {
    "crf": "flat CRF, char n-gram windows (sklearn-crfsuite)",
    "flat_bies": "flat BIES tagger, Mulco's encoder",
    "flat_bies_e50": "flat BIES tagger, Mulco's encoder, 50 epochs",
    "span_enum": "span enumeration, Mulco's encoder",
    "mulco": "**MulcoTagger** (B+E+C)",
    "mulco_B": "Mulco, B scope only",
    "mulco_BE": "Mulco, B+E scopes",
}


def mean_of(rows, key, spec):
    """Mean ± std of ``key`` over the rows that have it, or "-"."""
    values = [row[key] for row in rows if key in row]
    if not values:
        return "-"
    m = summarise(values)
    return f"{m['mean']:{spec}} ± {m['std']:{spec}}"


def markdown(r):
    lines = ["# Mulco benchmark", "", "Every arm at its default settings"]
    if r.get("settings", {}).get("params"):
        lines[-1] += f", with {r['settings']['params']}"
    lines[-1] += "; mean ± std over seeds (n = number of seeds)."
    groups = {}
    for key, row in r["rows"].items():
        name, arm, _ = key.split("/")
        groups.setdefault(name, {}).setdefault(arm, []).append(row)
    for name in [n for n in TITLES if n in groups]:
        lines += [
            "",
            f"## {TITLES[name]}",
            "",
            "| arm | n | precision | recall | F1 | inner-entity recall | fit s "
            "| predict sentences/s |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for arm in [a for a in ARMS if a in groups[name]]:
            rows = groups[name][arm]
            metrics = ("precision", "recall", "f1", "inner_recall")
            fit = summarise([row["fit_seconds"] for row in rows])["mean"]
            lines.append(
                f"| {ARM_NAMES[arm]} | {len(rows)} | "
                + " | ".join(mean_of(rows, k, ".4f") for k in metrics)
                + f" | {fit:.0f} | {mean_of(rows, 'predict_per_second', '.0f')} |"
            )
        exact = [
            (arm, rows)
            for arm, rows in groups[name].items()
            if all("f1_float32" in row for row in rows)
        ]
        if exact:
            lines += [
                "",
                "The same fitted taggers predicting in float32 (the default "
                '`predict_dtype="auto"` ran in bfloat16 where the CPU has it '
                "natively: "
                + ", ".join(
                    sorted({str(row["native_bfloat16"]) for _, r in exact for row in r})
                )
                + "):",
                "",
                "| arm | F1, float32 | predict sentences/s, float32 |",
                "|---|---|---|",
            ]
            for arm, rows in exact:
                lines.append(
                    f"| {ARM_NAMES[arm]} | {mean_of(rows, 'f1_float32', '.4f')} | "
                    f"{mean_of(rows, 'predict_per_second_float32', '.0f')} |"
                )
    curve = {size: f"curve_{size}" for size in SIZES[:-1]} | {SIZES[-1]: "main"}
    if sum(name in groups for name in curve.values()) > 1:
        lines += [
            "",
            "## Learning curve: F1 (inner-entity recall) by number of training "
            "sentences, same 1,500 test sentences",
            "",
            "| arm | " + " | ".join(f"{size:,}" for size in curve) + " |",
            "|---|" + "---|" * len(curve),
        ]
        for arm in [
            a for a in ARMS if any(a in groups.get(n, {}) for n in curve.values())
        ]:
            cells = []
            for name in curve.values():
                rows = groups.get(name, {}).get(arm, [])
                if not rows:
                    cells.append("-")
                    continue
                f1 = summarise([row["f1"] for row in rows])
                inner = summarise([row["inner_recall"] for row in rows])
                cells.append(
                    f"{f1['mean']:.3f} ± {f1['std']:.3f} ({inner['mean']:.3f})"
                )
            lines.append(f"| {ARM_NAMES[arm]} | " + " | ".join(cells) + " |")
    if "oracle" in r:
        lines += [
            "",
            "## Oracle round trip (gold spans encoded then decoded): recall",
            "",
            "| data | B | BE | BEC | flat ceiling (outermost, non-overlapping) |",
            "|---|---|---|---|---|",
        ]
        for name, o in r["oracle"].items():
            lines.append(
                f"| {name} | {o['B']:.4f} | {o['BE']:.4f} | {o['BEC']:.4f} | "
                f"{o['flat_ceiling_recall']:.4f} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
