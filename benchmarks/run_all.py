"""Run every benchmark script; extra arguments (e.g. --quick) go to each."""

import subprocess
import sys
from pathlib import Path

SCRIPTS = [
    "sgs_benchmark.py",
    "la3_benchmark.py",
    "mulco_benchmark.py",
    "gennape_benchmark.py",
    "aiop_benchmark.py",
]

if __name__ == "__main__":
    here = Path(__file__).parent
    for script in SCRIPTS:
        subprocess.run([sys.executable, here / script, *sys.argv[1:]], check=True)
