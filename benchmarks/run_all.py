"""Run every benchmark script; extra arguments (e.g. --quick) go to each script
that takes them (the recommender and GlyphDraw benchmarks have no quick mode and
are skipped under --quick)."""

import subprocess
import sys
from pathlib import Path

SCRIPTS = [
    "sgs_benchmark.py",
    "la3_benchmark.py",
    "mulco_benchmark.py",
    "gennape_benchmark.py",
    "aiop_benchmark.py",
    "catart_benchmark.py",
    "recguru_benchmark.py",
    "glyphdraw_benchmark.py",
]
NO_QUICK = {"catart_benchmark.py", "recguru_benchmark.py", "glyphdraw_benchmark.py"}

if __name__ == "__main__":
    here = Path(__file__).parent
    for script in SCRIPTS:
        if "--quick" in sys.argv[1:] and script in NO_QUICK:
            print(f"skipping {script}: no quick mode")
            continue
        subprocess.run([sys.executable, here / script, *sys.argv[1:]], check=True)
