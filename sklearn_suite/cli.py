"""The ``sklearn-suite`` command."""

import argparse
import importlib
import sys
import time
from pathlib import Path

# (name, module with run_demo) for every estimator the demo runs, in table order
DEMOS = [
    ("SGSConvClassifier", "sklearn_suite.conv._demo"),
    ("LabelAwareAugmenter", "sklearn_suite.augment._demo"),
    ("MulcoTagger", "sklearn_suite.ner._demo"),
    ("GENNAPERegressor", "sklearn_suite.nas._demo"),
    ("AIOPRegressor", "sklearn_suite.nas._demo:run_aiop_demo"),
    ("CATARTRecommender", "sklearn_suite.recommend._demo"),
    ("R5RuleLearner", "sklearn_suite.reasoning._demo"),
    ("RecGURURecommender", "sklearn_suite.recommend._demo:run_recguru_demo"),
    ("GlyphDrawGenerator", "sklearn_suite.generate._demo"),
]


def _format_table(rows):
    header = ["method", "data", "metric", "ours", "baseline", "seconds"]
    lines = [
        [
            r["method"],
            r["data"],
            r["metric"],
            f"{r['ours']:.3f}",
            f"{r['baseline']:.3f} ({r['baseline_name']})",
            f"{r['seconds']:.0f}",
        ]
        for r in rows
    ]
    widths = [
        max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)
    ]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt.format(*header), rule, *(fmt.format(*ln) for ln in lines)])


def demo(output_dir="sklearn-suite-demo", quick=False, random_state=0, only=None):
    """Run every available estimator on built-in data and print one table."""
    from tqdm.auto import tqdm

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    demos = [(n, m) for n, m in DEMOS if only is None or n in only]
    rows = []
    for _, module in tqdm(demos, desc="demo", unit="estimator"):
        start = time.perf_counter()
        module, _, function = module.partition(":")
        run = getattr(importlib.import_module(module), function or "run_demo")
        row = run(output_dir, quick=quick, random_state=random_state, verbose=1)
        row["seconds"] = time.perf_counter() - start
        rows.append(row)
    table = _format_table(rows)
    (output_dir / "results.txt").write_text(table + "\n")
    print(table)
    print(f"\nPictures and results.txt are in {output_dir.resolve()}")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="sklearn-suite",
        description="Research methods behind scikit-learn's estimator API.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("demo", help="run every estimator on built-in data")
    run.add_argument(
        "--output-dir",
        default="sklearn-suite-demo",
        help="folder for the pictures and the table",
    )
    run.add_argument(
        "--quick", action="store_true", help="tiny settings (seconds; for smoke tests)"
    )
    run.add_argument("--random-state", type=int, default=0)
    run.add_argument(
        "--only",
        nargs="+",
        choices=[n for n, _ in DEMOS],
        help="run only these estimators",
    )
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo(args.output_dir, args.quick, args.random_state, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
