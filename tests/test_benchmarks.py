"""Benchmark scripts still run (on tiny inputs; their timings are not checked)."""

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_scatter_backends_benchmark_prints_its_table(torch_scatter):
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "scatter_backends.py"), "--cells", "500", "--repeats", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    table_rows = [line for line in result.stdout.splitlines() if line.startswith("| scatter")]
    assert len(table_rows) == 4
