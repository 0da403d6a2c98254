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

# what each preset is for; printed above the table
PRESETS = {
    "quick": "quick: tiny settings, a smoke test that every estimator runs end to "
    "end (about 1 minute on 2 CPU cores); its numbers are NOT evidence of "
    "anything - run without --quick for a meaningful table",
    "default": "default: small settings that show each method working (about 10 "
    "minutes on 2 CPU cores); --full runs the benchmark-grade settings",
    "full": "full: benchmark-grade settings (about an hour on 2 CPU cores); "
    "the benchmarks in benchmarks/ average over seeds",
}


def _format_table(rows, preset):
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
    notes = [f"  {r['method']}: {r['note']}" for r in rows if r.get("note")]
    return "\n".join(
        [f"preset {PRESETS[preset]}", "", fmt.format(*header), rule]
        + [fmt.format(*ln).rstrip() for ln in lines]
        + (["", "notes:", *notes] if notes else [])
    )


def demo(output_dir="sklearn-suite-demo", preset="default", random_state=0, only=None):
    """Run the estimators on built-in data, each beside its baseline.

    Each finished row is written to ``output_dir/results.txt`` at once, so an
    interrupted run keeps what it has done.

    Parameters
    ----------
    output_dir : str or Path, default="sklearn-suite-demo"
        Folder for the pictures and ``results.txt``.
    preset : {"quick", "default", "full"}, default="default"
        Size of every run (see ``PRESETS``).
    random_state : int, default=0
        Seed of every data set and model.
    only : list of str, default=None
        Names of the estimators to run; all when None.

    Returns
    -------
    rows : list of dict
        One row per estimator.
    """
    from tqdm.auto import tqdm

    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}; got {preset!r}.")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    results = output_dir / "results.txt"
    results.unlink(missing_ok=True)
    demos = [(n, m) for n, m in DEMOS if only is None or n in only]
    rows = []
    bar = tqdm(demos, desc="demo", unit="estimator")
    for name, module in bar:
        bar.set_description(f"demo: {name}")
        start = time.perf_counter()
        module, _, function = module.partition(":")
        run = getattr(importlib.import_module(module), function or "run_demo")
        row = run(output_dir, preset=preset, random_state=random_state, verbose=1)
        row["seconds"] = time.perf_counter() - start
        rows.append(row)
        results.write_text(_format_table(rows, preset) + "\n")
    bar.close()
    print(_format_table(rows, preset))
    print(f"\nPictures and results.txt are in {output_dir.resolve()}")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="sklearn-suite",
        description="Research methods behind scikit-learn's estimator API.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "demo",
        help="run every estimator on built-in data beside its baseline",
        description="Run every estimator on built-in data beside the baseline a "
        "practitioner would use, print one table and write pictures. Each row is "
        "written to results.txt as soon as it is done; Ctrl-C stops the run.",
    )
    run.add_argument(
        "--output-dir",
        default="sklearn-suite-demo",
        help="folder for the pictures and results.txt",
    )
    size = run.add_mutually_exclusive_group()
    size.add_argument(
        "--quick",
        action="store_const",
        const="quick",
        dest="preset",
        help="tiny settings: a smoke test (about 1 minute on 2 CPU cores)",
    )
    size.add_argument(
        "--full",
        action="store_const",
        const="full",
        dest="preset",
        help="benchmark-grade settings (about an hour on 2 CPU cores)",
    )
    run.add_argument("--random-state", type=int, default=0)
    run.add_argument(
        "--only",
        nargs="+",
        choices=[n for n, _ in DEMOS],
        metavar="ESTIMATOR",
        help="run only these estimators: " + ", ".join(n for n, _ in DEMOS),
    )
    args = parser.parse_args(argv)
    if args.command == "demo":
        try:
            demo(
                args.output_dir, args.preset or "default", args.random_state, args.only
            )
        except KeyboardInterrupt:
            print(
                f"\ninterrupted; the rows finished so far are in "
                f"{Path(args.output_dir).resolve() / 'results.txt'}",
                file=sys.stderr,
            )
            return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
