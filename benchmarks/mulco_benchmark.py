"""Mulco benchmark: nested NER on ChiNesE and on generated sentences.

Arms, all with the same character encoder (random-init embeddings + 2-layer
BiLSTM) and training budget: a flat BIES tagger, a span-enumeration classifier,
and MulcoTagger with scopes B, BE and BEC. Metrics: micro precision, recall, F1
(exact span and label, all entities) and recall on inner (nested) entities;
3 seeds. Also the oracle round trip (encode gold spans, decode) per scope subset,
and tagging speed of MulcoTagger.predict.

ChiNesE: train on the 1,000 dev sentences (new_eval.json), test on the 1,500 test
sentences (new_test.json); the files are read from --data-dir, never copied.

    python benchmarks/mulco_benchmark.py --data-dir ../shared/data/chinese_nested_ner
    python benchmarks/mulco_benchmark.py --quick

Writes benchmarks/results/mulco.json and mulco.md.
"""

import argparse
import json
import time
from pathlib import Path

from _common import summarise

from sklearn_suite import MulcoTagger
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
    "flat_bies": lambda **kw: FlatBIESTagger(**kw),
    "span_enum": lambda **kw: SpanEnumerationTagger(**kw),
    "mulco_B": lambda **kw: MulcoTagger(scopes="B", **kw),
    "mulco_BE": lambda **kw: MulcoTagger(scopes="BE", **kw),
    "mulco_BEC": lambda **kw: MulcoTagger(scopes="BEC", **kw),
}


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


def run(name, X, y, Xt, yt, seeds, params, arms=tuple(ARMS)):
    rows = {}
    for arm, make in ARMS.items():
        if arm not in arms:
            continue
        scores = {
            "precision": [],
            "recall": [],
            "f1": [],
            "inner_recall": [],
            "fit_seconds": [],
        }
        for seed in seeds:
            start = time.perf_counter()
            tagger = make(random_state=seed, **params).fit(X, y)
            scores["fit_seconds"].append(time.perf_counter() - start)
            pred = tagger.predict(Xt)
            p, r, f = span_precision_recall_f1(yt, pred)
            scores["precision"].append(p)
            scores["recall"].append(r)
            scores["f1"].append(f)
            scores["inner_recall"].append(inner_entity_recall(yt, pred))
            print(
                f"{name} {arm:10s} seed={seed} P={p:.4f} R={r:.4f} F1={f:.4f} "
                f"inner R={scores['inner_recall'][-1]:.4f} "
                f"{scores['fit_seconds'][-1]:.0f}s",
                flush=True,
            )
        rows[arm] = {k: summarise(v) for k, v in scores.items()}
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data/chinese_nested_ner")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument(
        "--parts",
        default="accuracy,speed",
        help="run the speed part on an otherwise idle machine",
    )
    parser.add_argument(
        "--datasets",
        default="generated,chinese",
        help="datasets of the accuracy part (separate processes use several cores)",
    )
    parser.add_argument("--arms", default=",".join(ARMS))
    args = parser.parse_args()
    arms = args.arms.split(",")
    seeds = list(range(1 if args.quick else args.seeds))
    params = dict(
        max_epochs=1 if args.quick else args.epochs,
        hidden=64,
        emb_dim=64,
        latent=64,
        batch_size=32,
        lr=1e-2,
    )
    data_dir = Path(args.data_dir)
    X_dev, y_dev = read_chinese_nested_ner(data_dir / "new_eval.json")
    X_test, y_test = read_chinese_nested_ner(data_dir / "new_test.json")
    X_gen, y_gen = make_nested_ner(500, random_state=0)
    Xt_gen, yt_gen = make_nested_ner(500, random_state=1)
    if args.quick:
        X_dev, y_dev, X_test, y_test = X_dev[:60], y_dev[:60], X_test[:60], y_test[:60]
        X_gen, y_gen, Xt_gen, yt_gen = X_gen[:60], y_gen[:60], Xt_gen[:60], yt_gen[:60]
    new = {}
    if "accuracy" in args.parts:
        if "generated" in args.datasets:
            new["generated"] = run(
                "generated", X_gen, y_gen, Xt_gen, yt_gen, seeds, params, arms
            )
        if "chinese" in args.datasets:
            new["chinese"] = run(
                "ChiNesE", X_dev, y_dev, X_test, y_test, seeds, params, arms
            )
    if "speed" in args.parts:
        # prediction cost does not depend on how long the model trained
        tagger = MulcoTagger(random_state=0, **{**params, "max_epochs": 1})
        tagger.fit(X_dev, y_dev)
        tagger.predict(X_test[:64])  # warm-up
        start = time.perf_counter()
        tagger.predict(X_test)
        elapsed = time.perf_counter() - start
        new["speed_sentences_per_second"] = len(X_test) / elapsed
    # merge into what other processes wrote meanwhile (parts run concurrently)
    RESULTS.mkdir(exist_ok=True)
    suffix = "_quick" if args.quick else ""
    path = RESULTS / f"mulco{suffix}.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    for key, value in new.items():
        if isinstance(value, dict):
            results.setdefault(key, {}).update(value)
        else:
            results[key] = value
    results["settings"] = {
        "seeds": seeds,
        **params,
        "encoder": "bilstm, 2 layers",
        "selection": "last epoch (no dev selection: dev is the training set)",
    }
    results["oracle"] = {
        "chinese_test": oracle(X_test, y_test),
        "generated_test": oracle(Xt_gen, yt_gen),
    }
    path.write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / f"mulco{suffix}.md").write_text(markdown(results))
    print(markdown(results))


def markdown(r):
    s = r["settings"]
    lines = [
        "# Mulco benchmark",
        "",
        f"Char embeddings + BiLSTM (emb {s['emb_dim']}, hidden {s['hidden']}, "
        f"latent {s['latent']}), AdamW lr {s['lr']}, {s['max_epochs']} epochs, "
        f"batch {s['batch_size']}, seeds {s['seeds']}; {s['selection']}.",
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
    for key, title in (
        ("chinese", "ChiNesE (train dev 1,000, test 1,500)"),
        ("generated", "Generated (train 500, test 500)"),
    ):
        if key not in r:
            continue
        lines += [
            "",
            f"## {title}",
            "",
            "| arm | precision | recall | F1 | inner-entity recall | fit s |",
            "|---|---|---|---|---|---|",
        ]
        for arm in [a for a in ARMS if a in r[key]]:
            m = r[key][arm]
            lines.append(
                f"| {arm} | {m['precision']['mean']:.4f} ± {m['precision']['std']:.4f}"
                f" | {m['recall']['mean']:.4f} ± {m['recall']['std']:.4f} | "
                f"{m['f1']['mean']:.4f} ± {m['f1']['std']:.4f} | "
                f"{m['inner_recall']['mean']:.4f} ± {m['inner_recall']['std']:.4f} | "
                f"{m['fit_seconds']['mean']:.0f} |"
            )
    if "speed_sentences_per_second" in r:
        lines += [
            "",
            "Tagging speed, MulcoTagger(BEC).predict on the 1,500 ChiNesE test "
            f"sentences: {r['speed_sentences_per_second']:.0f} sentences/s.",
            "",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
