"""Benchmark scripts still run (on tiny inputs; their timings are not checked)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.child_warnings import with_warning_filters

ROOT = Path(__file__).resolve().parents[1]


def module_command(name: str, *arguments: str) -> list[str]:
    """``python -m benchmarks.NAME ARGS``, the documented way to run a benchmark (from the repository root)."""
    return [sys.executable, "-m", f"benchmarks.{name}", *arguments]


def run_command(command: list[str], timeout: int) -> str:
    """Run ``command`` from the repository root, under the test's warning filters, and return its stdout; a
    failure shows the command's stderr."""
    result = subprocess.run(command, cwd=ROOT, env=with_warning_filters(), capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command[1:])} exited with {result.returncode}:\n{result.stderr[-6000:]}"
    return result.stdout


def run_benchmark(script, *arguments, timeout: int = 120) -> str:
    return run_command(module_command(script, *arguments), timeout)


def test_scatter_backends_benchmark_prints_its_table(torch_scatter):
    output = run_benchmark("scatter_backends", "--cells", "500", "--repeats", "1")
    table_rows = [line for line in output.splitlines() if line.startswith("| scatter")]
    assert len(table_rows) == 4


def test_build_speed_benchmark_prints_both_implementations():
    rows = [line for line in run_benchmark("build_speed", "--sizes", "12", "--toponetx").splitlines()
            if line.startswith("| 144 |")]
    assert [row.split("|")[2].strip() for row in rows] == ["topodist", "toponetx 0.2.0"]
    assert rows[0].split("|")[4] == rows[1].split("|")[4]  # same total nnz from both


def test_partition_quality_benchmark_prints_every_method():
    output = run_benchmark("partition_quality", "--n-major", "16", "--world-size", "4")
    methods = [line.split("|")[1].strip() for line in output.splitlines() if line.startswith("| ")][1:]
    assert methods == ["strips", "metis", "contiguous", "random"]


def test_halo_exchange_benchmark_sends_exactly_the_plan_bytes():
    from tests.distributed.harness import free_port

    output = run_command(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(free_port()),
         "-m", "benchmarks.halo_exchange", "--n-major", "20", "--repeats", "2"],
        timeout=180,
    )
    header = next(line for line in output.splitlines() if line.startswith("P = 2"))
    assert header.endswith(": yes"), header
    assert [line.split("|")[1].strip() for line in output.splitlines() if line.startswith("| f")] == [
        "forward", "forward+backward"]


def test_step_timings_benchmark_prints_a_row_per_setting_against_the_first():
    output = run_benchmark("step_timings", "--steps", "4", "--warmup", "1", "--repeats", "1", "--every", "2",
                           timeout=300)
    rows = [line.split("|") for line in output.splitlines() if line.startswith("| ") and "ms" not in line]
    assert [(row[1].strip(), row[4].strip()) for row in rows] == [("2", "+0.0%")]  # one setting: its own baseline


# TopoModelX's AllSetTransformer imports torch_geometric, which scripts functions with torch.jit at import
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_zoo_benchmark_prints_a_row_per_model(topomodelx):
    from benchmarks.zoo_cases import cases

    output = run_benchmark("zoo_vs_topomodelx", "--size", "6", "--channels", "4", "--repeats", "1", "--models", "all")
    rows = [line.split("|") for line in output.splitlines() if line.startswith("| ") and " ms " not in line]
    assert [row[1].strip() for row in rows] == list(cases(4))
    assert max(float(row[5]) for row in rows) <= 1e-5  # the same weights give the same outputs


def test_zoo_benchmark_leaves_out_dense_originals_on_large_complexes(topomodelx):
    output = run_benchmark("zoo_vs_topomodelx", "--size", "8", "--channels", "2", "--repeats", "1",
                           "--models", "SAN", "HSN", "--dense-limit", "7")
    rows = [line.split("|") for line in output.splitlines() if line.startswith("| ") and " ms " not in line]
    assert [row[1].strip() for row in rows] == ["SAN", "HSN"]
    assert "left out" in rows[0][5] and float(rows[1][5]) <= 1e-5


def test_zoo_benchmark_floor_adds_the_time_without_products_and_the_bound(topomodelx):
    output = run_benchmark("zoo_vs_topomodelx", "--size", "6", "--channels", "4", "--repeats", "1",
                           "--models", "HSN", "UniGCN", "--floor")
    rows = [line.split("|") for line in output.splitlines() if line.startswith("| ") and " ms " not in line]
    assert [row[1].strip() for row in rows] == ["HSN", "UniGCN"]
    assert all(float(row[6]) >= 0 and float(row[7]) > 0 for row in rows)  # times are not checked


def test_zoo_benchmark_with_rounds_gives_the_range_of_the_rounds_ratios_around_the_median(topomodelx):
    output = run_benchmark("zoo_vs_topomodelx", "--size", "6", "--channels", "4", "--repeats", "3",
                           "--models", "UniGCN", "--floor")
    [row] = [line.split("|") for line in output.splitlines() if line.startswith("| UniGCN")]
    for cell in (row[4], row[7]):  # speedup, and the bound with products only writing outputs
        median, least, most = (float(value) for value in re.fullmatch(r" (\S+) \((\S+)-(\S+)\) ", cell).groups())
        assert 0 < least <= median <= most


def test_interleaved_seconds_times_every_run_once_a_round_in_alternating_order():
    from benchmarks.timing import interleaved_seconds

    calls = []
    times = interleaved_seconds({"a": lambda: calls.append("a"), "b": lambda: calls.append("b"),
                                 "c": lambda: calls.append("c")}, repeats=3, warmup=1)
    assert calls == ["a", "b", "c", "c", "b", "a", "a", "b", "c", "c", "b", "a"]
    assert list(times) == ["a", "b", "c"] and all(len(seconds) == 3 for seconds in times.values())
    assert all(value >= 0 for seconds in times.values() for value in seconds)


def test_interleaved_seconds_pairs_each_round_so_a_slowdown_hits_both_runs():
    import time

    from benchmarks.timing import interleaved_seconds, ratio_range

    slow = iter([0.0, 0.0, 0.1, 0.1, 0.0, 0.0])  # the machine is slow in the middle round

    def run():
        time.sleep(0.02 + next(slow))

    times = interleaved_seconds({"ours": run, "reference": run}, repeats=3, warmup=0)
    assert times["ours"][1] > 0.1 and times["reference"][1] > 0.1
    least, most = ratio_range(times["reference"], times["ours"])
    assert 0.5 < least <= most < 2  # run one after the other, the slow round would give one side 5x its time


def test_scaling_rounds_combine_into_the_median_step_and_every_ranks_highest_peaks():
    from benchmarks.scaling import combine_rounds

    def result(step_s, memory):
        return {"step_s": step_s, "memory": memory, "cells": 600,
                "independent": {"step_s": step_s / 2, "memory": memory[:1], "cells": 300}}

    rounds = [result(0.3, [(10.0, 4.0), (11.0, 5.0)]), result(0.1, [(12.0, 3.0), (9.0, 6.0)]),
              result(0.15, [(8.0, 7.0), (10.0, 2.0)])]
    combined = combine_rounds(rounds)
    assert combined["step_s"] == 0.15 and combined["rounds_s"] == [0.3, 0.1, 0.15] and combined["cells"] == 600
    assert combined["memory"] == [(12.0, 7.0), (11.0, 6.0)]  # each rank's own highest, column by column
    assert combined["independent"]["step_s"] == 0.075 and combined["independent"]["memory"] == [(12.0, 7.0)]


def test_ratio_range_is_the_least_and_most_ratio_of_paired_rounds():
    from benchmarks.timing import ratio_range

    assert ratio_range([2.0, 9.0, 4.0], [1.0, 3.0, 4.0]) == (1.0, 3.0)
    with pytest.raises(ValueError):
        ratio_range([1.0, 2.0], [1.0])


def test_products_only_write_outputs_zeroes_products_and_their_gradients_then_restores_them():
    import torch

    from benchmarks.zoo_vs_topomodelx import products_only_write_outputs
    from topodist.ops.neighborhood import neighborhood_matmul

    incidence = torch.tensor([[1.0, -1.0, 0.0], [0.0, 1.0, 1.0]]).to_sparse()
    x = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    with products_only_write_outputs():
        product = neighborhood_matmul(incidence, x)
        (product * torch.randn(2, 5, dtype=torch.float64)).sum().backward()
    assert product.shape == (2, 5) and product.dtype == torch.float64 and not product.any()
    assert x.grad.shape == (3, 5) and not x.grad.any()
    product = neighborhood_matmul(incidence, x)
    torch.testing.assert_close(product, incidence.to_dense().double() @ x, rtol=0, atol=1e-15)


def test_spmm_roofline_benchmark_prints_every_implementation_per_neighborhood():
    output = run_benchmark("spmm_roofline", "--size", "8", "--channels", "4", "--repeats", "1",
                           "--neighborhoods", "adjacency_0", "incidence_1.T")
    assert output.splitlines()[1].startswith("copy bandwidth: ")
    rows = [line.split("|") for line in output.splitlines() if line.startswith("| ") and " ms " not in line]
    assert [(row[1].strip(), row[4].strip()) for row in rows] == [
        (name, implementation) for name in ("adjacency_0", "incidence_1.T")
        for implementation in ("topodist", "torch CSR", "torch COO", "gather+scatter")]
    # every row divides by the copy timed in its neighborhood's rounds, one per neighborhood
    copies = {row[1].strip(): {other[8].strip() for other in rows if other[1] == row[1]} for row in rows}
    assert all(len(values) == 1 and float(next(iter(values))) > 0 for values in copies.values())


def test_scaling_benchmark_runs_one_and_two_ranks_from_their_shards():
    output = run_benchmark("scaling", "--mode", "weak", "--cells", "600", "--ranks", "1", "2", "--steps", "1",
                           "--warmup", "1", "--channels", "4")
    rows = [line.split("|") for line in output.splitlines() if line.startswith("| ") and " ms " not in line]
    assert [int(row[1]) for row in rows] == [1, 2]
    assert [int(row[2].replace(",", "")) for row in rows] == [600, 1176]  # 10 x 10 and 14 x 14 tori
    assert len(rows[1][5].split(",")) == 2  # one peak per rank


def test_scaling_benchmark_runs_independent_one_rank_jobs_on_the_cells_of_one_rank():
    output = run_benchmark("scaling", "--mode", "strong", "--cells", "1200", "--ranks", "1", "2", "--steps", "1",
                           "--warmup", "1", "--channels", "4", "--independent")
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in output.splitlines()
            if line.startswith("| ") and " ms " not in line]
    assert [int(row[0]) for row in rows] == [1, 2]
    assert rows[0][7:] == ["", "", "", ""]  # P = 1 has no independent run
    cells_per_job, step_ms, speedup, overhead = rows[1][7:]
    assert int(cells_per_job.replace(",", "")) == 600  # a 10 x 10 torus: half of the 14 x 14 one's 1176 cells
    step, base, partitioned = float(step_ms), float(rows[0][2]), float(rows[1][2])
    assert step > 0
    assert float(speedup) == pytest.approx(base / step, rel=0.05, abs=0.01)
    assert float(overhead) == pytest.approx(partitioned / step, rel=0.05, abs=0.01)


def test_scaling_data_peak_leaves_out_memory_freed_before_the_shard_loads():
    from benchmarks.scaling import reset_resident_peak, resident_bytes, resident_peak_since_reset

    block = b"\x01" * (256 * 2**20)  # written, so resident
    del block
    assert resident_peak_since_reset() >= 256 * 2**20
    if not reset_resident_peak():
        pytest.skip("this kernel does not let a process reset its high-water mark")
    assert resident_peak_since_reset() < resident_bytes() + 64 * 2**20


def test_product_forms_benchmark_names_a_form_per_laplacian():
    output = run_benchmark("product_forms", "--torus", "8", "--rgg-nodes", "60", "--rgg-radius", "0.3",
                           "--channels", "4", "--repeats", "1")
    rows = [line.split("|") for line in output.splitlines() if line.startswith("| ") and " ms " not in line]
    assert len(rows) == 8
    assert {row[10].strip() for row in rows} <= {"assembled", "chain"}
    assert {row[11].strip() for row in rows} <= {"assembled", "chain"}


def test_mixed_precision_benchmark_prints_a_row_per_model():
    from benchmarks.zoo_cases import cases

    output = run_benchmark("mixed_precision", "--size", "6", "--channels", "4", "--repeats", "1", "--models", "all")
    rows = [line.split("|") for line in output.splitlines() if line.startswith("| ") and " ms " not in line]
    assert [row[1].strip() for row in rows] == list(cases(4))
    differences = [float(row[5]) for row in rows]
    assert all(0 < difference <= 0.15 for difference in differences)  # rounded to bfloat16, not wrong


def test_laplacian_forms_benchmark_trains_both_forms_to_the_same_losses():
    output = run_benchmark("laplacian_forms", "--source", "rgg:200:0.15", "--devices", "1", "--steps", "2",
                           "--modes", "assembled", "factored")
    rows = [line.split("|") for line in output.splitlines() if line.startswith("| ") and " ms " not in line]
    assert [row[1].strip() for row in rows] == ["assembled", "factored"]
    assert "scaled_down_laplacian_1: factored" in rows[1][2]
    first, last = ([float(row[column]) for row in rows] for column in (7, 8))
    assert abs(first[0] - first[1]) <= 1e-5 * abs(first[0]) and abs(last[0] - last[1]) <= 1e-5 * abs(last[0])


def test_one_device_benchmark_grows_the_complex_up_to_the_limit():
    output = run_benchmark("one_device", "--device", "cpu", "--cells", "600", "--largest", "--max-cells", "5000",
                           "--steps", "1", "--warmup", "1", "--channels", "4")
    rows = [line.split("|") for line in output.splitlines() if line.startswith("| ") and " ms " not in line]
    # 10 x 10 and 20 x 20 tori fit the line; the prediction (far above 5,000 on any machine) is capped: 29 x 29
    assert [int(row[1].replace(",", "")) for row in rows] == [600, 2400, 5046]
    assert all(row[4].strip() == "yes" and float(row[2]) > 0 for row in rows)
    assert "largest complex trained: 5,046 cells (the --max-cells bound)" in output


def test_one_device_search_tries_the_plan_then_steps_down_then_halves_the_gap():
    from benchmarks.one_device import next_size

    # tori of 6 n^2 cells: n = 100, 150, 200 give 60,000, 135,000, 240,000
    planned = [240_000, 300_000]
    assert next_size(60_000, None, planned) == 240_000 and planned == [300_000]
    # a planned size at or above one that did not fit teaches nothing: skipped; then 0.85 of the failed size
    assert next_size(240_000, 300_000, [600_000, 300_000]) == 255_000
    assert next_size(60_000, 600_000, []) == 510_000
    # 0.85 of it is below what trained: the middle of the gap, until the gap is at most 5%
    assert next_size(240_000, 270_000, []) == 255_000
    assert next_size(240_000, 250_000, []) is None
    # every size fit and nothing is planned; or no torus lies between (3 x 3 trained, 4 x 4 did not fit)
    assert next_size(240_000, None, []) is None
    assert next_size(54, 96, []) is None


def test_one_device_attempt_releases_what_a_step_that_ran_out_of_memory_held():
    script = """
import argparse, gc, weakref, torch
import benchmarks.one_device as one_device
from topodist.nn.simplicial import hsn

held = []
forward = hsn.HSN.forward
def out_of_memory(self, x_0, *neighborhoods):
    held.append(weakref.ref(x_0))
    forward(self, x_0, *neighborhoods)
    raise torch.OutOfMemoryError("out of memory (raised by the test)")
hsn.HSN.forward = out_of_memory
gc.disable()  # the collector must not run by chance: only what attempt itself frees counts
assert one_device.attempt(6000, torch.device("cpu"), argparse.Namespace(channels=4, steps=1, warmup=0)) is None
print("features still held:", held[0]() is not None)
"""
    output = run_command([sys.executable, "-c", script], timeout=120)
    assert "features still held: False" in output


def test_step_memory_replays_the_allocator_history_to_what_holds_the_peak():
    from benchmarks.step_memory import BEFORE_THE_STEP, live_at_peak

    ours = [{"filename": "/usr/lib/site-packages/torch/functional.py", "line": 5, "name": "sigmoid"},
            {"filename": "/home/me/repo/topodist/base/conv.py", "line": 107, "name": "update"}]
    units = {"edge features": 3072}
    trace = [
        {"action": "alloc", "addr": 1, "size": 1024, "frames": ours},
        {"action": "free_requested", "addr": 1, "size": 1024, "frames": []},  # not yet released: still held
        {"action": "alloc", "addr": 2, "size": 3072, "frames": []},  # the autograd engine's, no Python frame
        {"action": "free_completed", "addr": 1, "size": 1024, "frames": []},
        {"action": "free_completed", "addr": 9, "size": 2048, "frames": []},  # allocated before the history
        {"action": "alloc", "addr": 3, "size": 512, "frames": ours},
    ]
    peak, holders = live_at_peak(trace, 4096, units)
    assert peak == 4096 + 1024 + 3072
    assert holders == {BEFORE_THE_STEP: 4096, "topodist/base/conv.py:107 update": 1024,
                       "outside Python: edge features": 3072}


def test_step_memory_counts_what_the_neighborhood_caches_hold_on_the_cpu():
    output = run_benchmark("step_memory", "--device", "cpu", "--cells", "6000")
    line = next(line for line in output.splitlines() if "neighborhood caches hold" in line)
    held = float(line.split("(")[1].split(" B/cell")[0])
    # HSN's B1 and A0 have about one entry a cell each: their CSR forms and transposes take tens of bytes a cell
    assert 20 < held < 120


def test_dense_products_benchmark_prints_four_products_per_shape():
    output = run_benchmark("dense_products", "--shapes", "300:8:4", "70:4:4", "--repeats", "1")
    rows = [line.split("|") for line in output.splitlines() if line.startswith("| ") and " ms " not in line]
    assert [(row[1].strip(), row[2].strip()) for row in rows] == [
        (shape, product) for shape in ("300 x 8 x 4", "70 x 4 x 4")
        for product in ("x @ W", "grad @ W^T", "x^T grad", "forward + backward")]


def test_memory_bandwidth_benchmark_runs_every_case_on_each_process_count():
    output = run_benchmark("memory_bandwidth", "--processes", "1", "2", "--megabytes", "4", "--seconds", "0.05")
    rows = [line.split("|") for line in output.splitlines() if line.startswith("| ") and " ms " not in line]
    rows = [row for row in rows if row[1].strip().isdigit()]
    assert [(int(row[1]), row[2].strip()) for row in rows] == [
        (n, work) for n in (1, 2) for work in ("copy", "sigmoid", "cached product")]
    assert all(len(row[3].split(",")) == int(row[1]) for row in rows)  # one rate per process
    assert all(float(row[5]) == 1.0 for row in rows[:3])
