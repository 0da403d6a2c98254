"""Every demo row over several seeds, to check that a refactoring keeps outputs.

Runs each estimator's ``sklearn-suite demo`` row (its method and its baseline) at
one preset for several seeds and writes the scores; ``--compare`` puts two such
runs side by side, with each row's seed spread, so a change can be judged against
seed noise.

    python benchmarks/demo_parity.py --preset quick --output before.json
    ... change the code ...
    python benchmarks/demo_parity.py --preset quick --output after.json
    python benchmarks/demo_parity.py --compare before.json after.json
"""

import argparse
import importlib
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from sklearn_suite.cli import DEMOS


def run(preset, seeds, only=None):
    rows = []
    for name, target in DEMOS:
        if only and name not in only:
            continue
        module, _, function = target.partition(":")
        demo = getattr(importlib.import_module(module), function or "run_demo")
        for seed in seeds:
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                row = demo(tmp, preset=preset, random_state=seed)
            rows.append({
                "estimator": name, "seed": seed, "ours": float(row["ours"]),
                "baseline": float(row["baseline"]),
                "seconds": round(time.perf_counter() - start, 1),
            })  # fmt: skip
            print(rows[-1], flush=True)
    return rows


def _stats(rows, name, key):
    values = [r[key] for r in rows if r["estimator"] == name]
    return np.mean(values), np.std(values, ddof=1) if len(values) > 1 else 0.0


def compare(before, after):
    """A markdown table: mean +- std over seeds, before and after, per row."""
    lines = [
        "| estimator | ours before | ours after | baseline before | baseline after "
        "| seconds before | seconds after |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(r["estimator"] for r in before):
        cells = [name]
        for key in ("ours", "baseline", "seconds"):
            for rows in (before, after):
                mean, std = _stats(rows, name, key)
                cells.append(f"{mean:.3f} ± {std:.3f}" if key != "seconds"
                             else f"{mean:.0f}")  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--only", nargs="+")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args(argv)
    if args.compare:
        before, after = (json.loads(p.read_text())["rows"] for p in args.compare)
        print(compare(before, after))
        return
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = run(args.preset, seeds, args.only)
    if args.output:
        args.output.write_text(
            json.dumps({"preset": args.preset, "rows": rows}, indent=1) + "\n"
        )


if __name__ == "__main__":
    main()
