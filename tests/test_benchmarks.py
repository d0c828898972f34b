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


def run_benchmark(script, *arguments):
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *arguments], capture_output=True, text=True, timeout=120, check=True
    ).stdout


def test_build_speed_benchmark_prints_both_implementations():
    rows = [line for line in run_benchmark("build_speed.py", "--sizes", "12", "--toponetx").splitlines()
            if line.startswith("| 144 |")]
    assert [row.split("|")[2].strip() for row in rows] == ["topodist", "toponetx 0.2.0"]
    assert rows[0].split("|")[4] == rows[1].split("|")[4]  # same total nnz from both


def test_partition_quality_benchmark_prints_every_method():
    output = run_benchmark("partition_quality.py", "--n-major", "16", "--world-size", "4")
    methods = [line.split("|")[1].strip() for line in output.splitlines() if line.startswith("| ")][1:]
    assert methods == ["strips", "metis", "contiguous", "random"]


def test_halo_exchange_benchmark_sends_exactly_the_plan_bytes():
    from tests.distributed.harness import free_port

    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(free_port()),
         str(BENCHMARKS / "halo_exchange.py"), "--n-major", "20", "--repeats", "2"],
        capture_output=True, text=True, timeout=180, check=True,
    )
    header = next(line for line in result.stdout.splitlines() if line.startswith("P = 2"))
    assert header.endswith(": yes"), header
    assert [line.split("|")[1].strip() for line in result.stdout.splitlines() if line.startswith("| f")] == [
        "forward", "forward+backward"]


def test_step_timings_benchmark_prints_a_row_per_setting():
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "step_timings.py"), "--steps", "4", "--warmup", "1", "--repeats", "1",
         "--every", "0", "2"],
        capture_output=True, text=True, timeout=300, check=True,
    )
    rows = [line.split("|")[1].strip() for line in result.stdout.splitlines() if line.startswith("| ") and "ms" not in line]
    assert rows == ["0", "2"]


def test_zoo_benchmark_prints_a_row_per_model(topomodelx):
    output = run_benchmark("zoo_vs_topomodelx.py", "--size", "6", "--channels", "4", "--repeats", "1")
    rows = [line.split("|") for line in output.splitlines() if line.startswith("| ") and " ms " not in line]
    assert [row[1].strip() for row in rows] == ["HSN", "SCN2", "CWN", "UniGCN"]
    assert max(float(row[5]) for row in rows) <= 1e-5  # the same weights give the same outputs
