"""slurm/train.sbatch and slurm/partition.sbatch on a real one-node SLURM cluster, 2 CPU ranks.

The cluster (tests/slurm/cluster.py) needs Debian's slurm-wlm and munge and root;
``make test`` installs them where apt-get is available and then requires these
tests (``TOPODIST_REQUIRE_SLURM=1``); elsewhere they skip.
"""

import json
import os
import re
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from tests.child_warnings import with_warning_filters
from tests.slurm.cluster import Cluster, missing_programs
from tests.training.test_cli import RESUMING, written_predictions

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "torus_hsn.yaml"
EPOCHS = 120
CHECKPOINT = Path("runs") / "torus_hsn" / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    problems = missing_programs()
    if os.geteuid() != 0:
        problems.append("root (the test cluster runs its daemons as root)")
    if problems:
        if os.environ.get("TOPODIST_REQUIRE_SLURM") == "1":
            pytest.fail(f"TOPODIST_REQUIRE_SLURM=1 but missing: {', '.join(problems)}")
        pytest.skip(f"no SLURM test cluster here: missing {', '.join(problems)}")
    running = Cluster(tmp_path_factory.mktemp("slurm"))
    try:
        running.start()
        yield running
    finally:
        running.stop()


def job_environment(home: Path) -> dict:
    """The submitting user's environment: topodist's virtualenv, CPU ranks, no W&B credentials; the job runs
    under the submitting test's warning filters."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("WANDB_", "SLURM_"))}
    env |= {"HOME": str(home), "TOPODIST_ENV": str(Path(sys.executable).parent / "activate"),
            "TOPODIST_ACCELERATOR": "cpu"}
    return with_warning_filters(env)


CSV_LOGGER = {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": "logs"}}
WANDB_LOGGER = {"class_path": "lightning.pytorch.loggers.WandbLogger",
                "init_args": {"project": "topodist", "save_dir": "runs", "offline": True}}


def submit_training(cluster: Cluster, cwd: Path, *extra: str, loggers: tuple[dict, ...] = (CSV_LOGGER,)) -> str:
    return cluster.sbatch(
        ["--ntasks-per-node=2", "--cpus-per-task=1", "--time=00:20:00", str(REPO / "slurm" / "train.sbatch"), str(CONFIG),
         "--trainer.max_epochs", str(EPOCHS), "--trainer.logger", json.dumps(list(loggers)), *extra],
        cwd=cwd, env=job_environment(cwd),
    )


def wandb_run_id(output: str) -> str:
    """The W&B run id a job's output names."""
    (line,) = [line for line in output.splitlines() if "WANDB_RUN_ID=" in line]
    return line.split("WANDB_RUN_ID=")[1].strip()


def final_state(cwd: Path) -> tuple[dict, float]:
    """The last checkpoint's weights and the last logged training loss (of the last CSV version)."""
    weights = torch.load(cwd / CHECKPOINT, map_location="cpu", weights_only=True)["state_dict"]
    versions = sorted((cwd / "logs").glob("**/version_*/metrics.csv"), key=lambda p: int(p.parent.name[8:]))
    rows = [line.split(",") for line in versions[-1].read_text().splitlines()]
    column = rows[0].index("train/loss")
    losses = [float(row[column]) for row in rows[1:] if row[column]]
    return weights, losses[-1]


def wait_until_training(cluster: Cluster, job: str, cwd: Path) -> None:
    """Return once the job runs and has saved a checkpoint, with some epochs still to go."""
    deadline = time.monotonic() + 240
    while not (cwd / CHECKPOINT).is_file():
        assert time.monotonic() < deadline, (cwd / f"topodist-{job}.out").read_text()[-3000:]
        assert cluster.job(job)["JobState"] in ("PENDING", "RUNNING", "CONFIGURING")
        time.sleep(0.5)
    time.sleep(2)
    assert cluster.job(job)["JobState"] == "RUNNING"


def restart_requeued(cluster: Cluster, job: str) -> dict:
    """Wait for a requeued job to end; SLURM holds it a while first (Reason=BeginTime): release it now."""
    pending = cluster.wait(job, states=("PENDING",), timeout_s=120)
    if pending.get("Reason") == "BeginTime":
        cluster.scontrol("update", f"JobId={job}", "StartTime=now")
    return cluster.wait(job, timeout_s=300)


@pytest.fixture(scope="module")
def uninterrupted(cluster, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("uninterrupted")
    job = submit_training(cluster, cwd)
    info = cluster.wait(job)
    output = (cwd / f"topodist-{job}.out").read_text()
    assert info["JobState"] == "COMPLETED" and info["ExitCode"] == "0:0", output[-3000:]
    return cwd, job, output


def test_train_sbatch_runs_two_ranks_and_leaves_a_checkpoint(uninterrupted):
    cwd, job, output = uninterrupted
    assert "1 node(s) x 2 task(s), accelerator cpu" in output
    (hparams,) = (cwd / "logs").glob("**/version_*/hparams.yaml")
    assert yaml.safe_load(hparams.read_text())["partition"]["world_size"] == 2
    assert (cwd / CHECKPOINT).is_file()
    assert torch.load(cwd / CHECKPOINT, map_location="cpu", weights_only=True)["epoch"] == EPOCHS - 1
    assert (cwd / "runs" / "slurm" / f"topodist-{job}").is_dir()  # the job's own Lightning directory
    run_id = (cwd / "runs" / "slurm" / f"topodist-{job}" / "wandb_run_id").read_text().strip()
    assert run_id == wandb_run_id(output) and run_id.startswith(f"{job}-")


@RESUMING
def test_a_requeued_job_resumes_from_its_checkpoint_and_ends_as_the_uninterrupted_one(cluster, uninterrupted, tmp_path):
    job = submit_training(cluster, tmp_path, loggers=(CSV_LOGGER, WANDB_LOGGER))
    wait_until_training(cluster, job, tmp_path)
    cluster.scontrol("requeue", job)
    info = restart_requeued(cluster, job)
    output = (tmp_path / f"topodist-{job}.out").read_text()
    assert info["JobState"] == "COMPLETED" and info["Restarts"] == "1", output[-3000:]
    assert "restart 1 of job" in output and "resuming with --ckpt_path last" in output
    assert "Restoring states from the checkpoint" in output
    weights, loss = final_state(tmp_path)
    expected_weights, expected_loss = final_state(uninterrupted[0])
    assert loss == expected_loss
    assert weights.keys() == expected_weights.keys()
    for name, value in weights.items():
        assert torch.equal(value, expected_weights[name]), name
    # both starts logged to one W&B run (offline: two run directories of one id, which `wandb sync` joins),
    # and not to the run of another job
    (run_id,) = set(re.findall(r"WANDB_RUN_ID=(\S+)", output))
    assert output.count(f"WANDB_RUN_ID={run_id}") == 2 and run_id != wandb_run_id(uninterrupted[2])
    started = sorted(path.name for path in (tmp_path / "runs" / "wandb").glob("offline-run-*"))
    assert len(started) == 2 and all(name.endswith(f"-{run_id}") for name in started), started


def test_a_predict_job_on_the_training_ranks_writes_every_cell_of_the_trained_checkpoint(cluster, uninterrupted):
    cwd = uninterrupted[0]  # the training job's submit directory: its config's checkpoint directory is there
    job = cluster.sbatch(
        ["--ntasks-per-node=2", "--cpus-per-task=1", "--time=00:10:00", str(REPO / "slurm" / "train.sbatch"),
         str(CONFIG), "--ckpt_path", "last", "--trainer.logger", "lightning.pytorch.loggers.CSVLogger",
         "--trainer.logger.save_dir", "predict_logs"],  # not the training job's logs, which other tests read
        cwd=cwd, env=job_environment(cwd) | {"TOPODIST_COMMAND": "predict"},
    )
    info = cluster.wait(job)
    output = (cwd / f"topodist-{job}.out").read_text()
    assert info["JobState"] == "COMPLETED" and info["ExitCode"] == "0:0", output[-3000:]
    assert "predict on 1 node(s) x 2 task(s), accelerator cpu" in output
    written_predictions(cwd, output, 60 * 30)  # every node of the config's torus


def test_an_unknown_command_stops_the_job_naming_the_choices(cluster, tmp_path):
    job = cluster.sbatch(
        ["--ntasks-per-node=1", "--cpus-per-task=1", str(REPO / "slurm" / "train.sbatch"), str(CONFIG)],
        cwd=tmp_path, env=job_environment(tmp_path) | {"TOPODIST_COMMAND": "train"},
    )
    info = cluster.wait(job)
    output = (tmp_path / f"topodist-{job}.out").read_text()
    assert info["JobState"] == "FAILED" and info["ExitCode"] == "2:0", output
    assert "TOPODIST_COMMAND=train: choose fit, validate, test or predict" in output


def test_partition_sbatch_prepares_the_shards_the_training_job_then_reuses(cluster, tmp_path):
    shard_dir = ["--data.init_args.partition.shard_dir", "shards/torus-2"]
    partition = cluster.sbatch(
        ["--cpus-per-task=1", "--mem=1G", str(REPO / "slurm" / "partition.sbatch"), "2", str(CONFIG), *shard_dir],
        cwd=tmp_path, env=job_environment(tmp_path),
    )
    training = cluster.sbatch(
        [f"--dependency=afterok:{partition}", "--ntasks-per-node=2", "--cpus-per-task=1",
         str(REPO / "slurm" / "train.sbatch"), str(CONFIG), "--trainer.max_epochs", "2", *shard_dir],
        cwd=tmp_path, env=job_environment(tmp_path),
    )
    assert cluster.wait(partition)["JobState"] == "COMPLETED", (tmp_path / f"topodist-partition-{partition}.out").read_text()
    manifest = tmp_path / "shards" / "torus-2" / "manifest.json"
    written = manifest.stat().st_mtime_ns
    assert "wrote 2 shards in shards/torus-2" in (tmp_path / f"topodist-partition-{partition}.out").read_text()
    info = cluster.wait(training)
    assert info["JobState"] == "COMPLETED", (tmp_path / f"topodist-{training}.out").read_text()[-3000:]
    assert manifest.stat().st_mtime_ns == written  # the ranks found matching shards and read them
