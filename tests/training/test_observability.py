"""The default experiment on 2 CPU ranks, W&B offline: timings, halo traffic and the partition report reach the run."""

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.partition.test_plot import png_size
from tests.training.test_cli import CONFIGS, topodist
from topodist.data.neighborhoods import neighborhood_ranks
from topodist.partition.plot import FIGURE_PIXELS
from topodist.training.observability import TIMES

STEPS = 5


def offline_history(run_directory: Path) -> list[dict]:
    """The history records of an offline W&B run, read with W&B's own inspector."""
    from google.protobuf import text_format
    from wandb.proto import wandb_internal_pb2

    inspector = Path(sys.executable).with_name("wandb")
    text = subprocess.run(
        [str(inspector), "leet", "inspect", str(run_directory)], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    history = []
    for block in re.split(r"^# record \d+: \w+\n", text, flags=re.MULTILINE)[1:]:
        record = text_format.Parse(block, wandb_internal_pb2.Record())
        if record.WhichOneof("record_type") == "history":
            history.append({item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item})
    return history


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("default_experiment")
    result = topodist(
        cwd, "fit", "--config", str(CONFIGS / "torus_hsn.yaml"), "--trainer.max_steps", str(STEPS),
        "--model.init_args.log_timings_every_n_steps", "1",  # every step, to check each one
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = (cwd / "runs" / "wandb").glob("offline-run-*")
    return run, offline_history(run)


def test_every_step_logs_a_time_split_that_fits_in_the_step(default_run):
    _, history = default_run
    steps = [entry for entry in history if "perf/step_seconds/mean" in entry]
    assert [entry["trainer/global_step"] for entry in steps] == list(range(STEPS))
    for entry in steps:
        for name in TIMES:
            mean, slowest = entry[f"perf/{name}_seconds/mean"], entry[f"perf/{name}_seconds/max"]
            assert 0 < mean <= slowest, name
        parts = entry["perf/compute_seconds/mean"] + entry["perf/halo_exposed_seconds/mean"]
        assert parts + entry["perf/ddp_allreduce_seconds/mean"] <= entry["perf/step_seconds/mean"] * (1 + 1e-9)
        assert entry["perf/halo_exposed_seconds/mean"] <= entry["perf/halo_seconds/mean"]
        assert entry["perf/slowest_rank"] in (0, 1)
    losses = [entry for entry in history if "train/loss" in entry]
    assert len(losses) == STEPS and all(0 < entry["comm_share"] < 1 for entry in losses)  # the progress bar's share
    assert any("perf/setup_seconds/max" in entry for entry in history)


def test_halo_bytes_are_whole_exchanges_of_the_plan(default_run):
    run, history = default_run
    (table_file,) = (run / "files" / "media" / "table" / "partition").glob("parts_*.table.json")
    table = json.loads(table_file.read_text())
    columns, rows = table["columns"], table["data"]
    parts = [row for row in rows if row[0] != "max/mean"]
    assert [row[0] for row in parts] == ["0", "1"]
    cells = [sum(row[columns.index(f"cells r{r}")] for row in parts) for r in range(3)]
    assert cells == [1800, 5400, 3600]  # the 60 x 30 torus
    halo = {r: sum(row[columns.index(f"halo r{r}")] for row in parts) for r in range(3)}
    row_bytes = 16 * 4  # HSN's 16 float32 channels
    for entry in (e for e in history if "perf/step_seconds/mean" in e):
        sent = [entry[f"halo/bytes_sent/rank_{r}"] for r in range(2)]
        received = [entry[f"halo/bytes_received/rank_{r}"] for r in range(2)]
        assert sum(sent) == sum(received) > 0  # what one rank sends, another receives
        by_neighborhood = {key.split("/", 2)[2]: value for key, value in entry.items() if key.startswith("halo/bytes_sent/")
                           and not key.startswith("halo/bytes_sent/rank_")}
        assert sum(by_neighborhood.values()) == sum(sent)
        # Each exchange moves the plan's halo rows forward and as many gradient rows back. HSN's two layers
        # each exchange node features twice through adjacency_0 (x, then sigma(A x W)); incidence_1.T reads
        # the same x, already exchanged through the nodes' plan; and edge features once through incidence_1.
        exchanges = {"adjacency_0": 4, "incidence_1": 2, "incidence_1.T": 0}
        assert set(by_neighborhood) == set(exchanges)
        for name, count in exchanges.items():
            assert by_neighborhood[name] == count * 2 * halo[neighborhood_ranks(name)[1]] * row_bytes, name


def test_partition_picture_is_logged(default_run):
    run, _ = default_run
    (picture,) = (run / "files" / "media" / "images" / "partition").glob("picture_*.png")
    assert png_size(picture.read_bytes()) == FIGURE_PIXELS


def test_other_loggers_get_the_picture_in_their_log_directory(tmp_path):
    result = topodist(
        tmp_path, "fit", "--config", str(CONFIGS / "torus_hsn.yaml"), "--trainer.max_steps", "2",
        "--trainer.logger", "lightning.pytorch.loggers.CSVLogger", "--trainer.logger.save_dir", "logs",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (picture,) = (tmp_path / "logs").glob("**/partition.png")
    assert png_size(picture.read_bytes()) == FIGURE_PIXELS
    (metrics,) = (tmp_path / "logs").glob("**/metrics.csv")
    with open(metrics) as handle:
        rows = list(csv.DictReader(handle))
    timed = [row for row in rows if row.get("perf/step_seconds/max")]
    # default: means over 10 steps, and what is left at the end of training: one row for 2 steps
    assert len(timed) == 1 and float(timed[0]["halo/bytes_sent/adjacency_0"]) > 0
    assert float(timed[0]["halo/bytes_sent/rank_1"]) > 0


def test_ddp_time_is_the_union_of_bucket_intervals_within_the_step():
    from topodist.training.observability import StepTimings, _union_length

    # overlapping buckets count once; what lies outside the step does not count
    assert _union_length([(1.0, 3.0), (2.0, 4.0), (6.0, 7.0), (-5.0, 0.5)], 0.0, 6.5) == pytest.approx(0.5 + 3.0 + 0.5)
    assert _union_length([], 0.0, 1.0) == 0.0
    with pytest.raises(ValueError, match="every_n_steps=0"):
        StepTimings(every_n_steps=0)
