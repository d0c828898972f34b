"""`topodist fit|test` from YAML configs, as a user runs them: DDP equals one device, W&B offline,
CSV override, exact resume, and bad configs named before training."""

import csv
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from tests.child_warnings import with_warning_filters
from tests.distributed.harness import free_port

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TRAINING_CONFIGS = sorted(CONFIGS.glob("*_*.yaml"))


def _environment(cwd: Path) -> dict:
    """A user's environment for a run in ``cwd``, under the calling test's warning filters (a warning fails it)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("WANDB_")}
    env["HOME"] = str(cwd)  # no W&B credentials: the default logger stays offline
    # each run its own rendezvous port: runs started together (topodist_runs) must not share one, and
    # in-process multi-rank tests leave MASTER_PORT in this process's environment
    env["MASTER_PORT"] = str(free_port())
    # every jsonargparse deprecation, not only the first per API: Lightning's calls would hide topodist's
    env["JSONARGPARSE_DEPRECATION_WARNINGS"] = "all"
    return with_warning_filters(env)


def topodist(cwd: Path, *arguments: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """One ``topodist`` run in ``cwd``, its output captured."""
    return topodist_runs({"run": (cwd, list(arguments))}, timeout)["run"]


def topodist_runs(runs: dict, timeout: int = 300) -> dict[str, subprocess.CompletedProcess]:
    """Several ``topodist`` runs at once, ``{label: (cwd, arguments)}``: they wait on process start-up and
    rendezvous more than they compute, so two together take about the time of one on two cores."""
    started = {}
    try:
        for label, (cwd, arguments) in runs.items():
            with open(cwd / "stdout.txt", "w") as stdout, open(cwd / "stderr.txt", "w") as stderr:  # not pipes:
                started[label] = subprocess.Popen(  # a full pipe would stall a run until the other ends
                    [sys.executable, "-m", "topodist.cli", *arguments], cwd=cwd, env=_environment(cwd),
                    stdout=stdout, stderr=stderr,
                )
        deadline = time.monotonic() + timeout
        for process in started.values():
            process.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        for process in started.values():
            process.kill()
            process.wait()
    return {
        label: subprocess.CompletedProcess(process.args, process.returncode, (cwd / "stdout.txt").read_text(),
                                           (cwd / "stderr.txt").read_text())
        for (label, process), (cwd, _) in zip(started.items(), runs.values(), strict=True)
    }


def losses(save_dir: Path) -> list[float]:
    (metrics,) = save_dir.glob("**/metrics.csv")
    with open(metrics) as handle:
        return [float(row["train/loss"]) for row in csv.DictReader(handle) if row.get("train/loss")]


# Lightning warns at every resumed fit that the run's checkpoint directory is not empty; resuming is meant to.
RESUMING = pytest.mark.filterwarnings("ignore:Checkpoint directory .* exists and is not empty:UserWarning")

CSV = ["--trainer.logger", "lightning.pytorch.loggers.CSVLogger", "--trainer.logger.save_dir", "logs"]


def forked(config: Path) -> list[str]:
    """The config's DDP strategy with forked ranks: the same training, without each rank importing torch anew."""
    strategy = (yaml.safe_load(config.read_text()).get("trainer") or {}).get("strategy", "ddp")
    if strategy not in ("ddp", "ddp_find_unused_parameters_true"):
        return []
    return ["--trainer.strategy", strategy.replace("ddp", "ddp_fork", 1)]


# One config per task, data module and kind of complex, and every path the partition changes (dropout keys,
# batch statistics, replicated compute, attention, the inverse Laplacian, readouts): run on 1 and 3 ranks, same
# losses. The other configs run on 3 ranks; their models' partitioned outputs and gradients equal the whole
# complex's in tests/nn (float64, 3 ranks), which the training plumbing checked here does not change.
PARITY_CONFIGS = {
    "torus_hsn", "karate_hsn", "celltorus_ccxn", "cctorus_hmc", "hypergraph_allset", "hypergraph_dhgcn",
    "hypergraph_hmpnn", "torus_edges_dist2cycle", "torus_edges_san", "icosphere_sccnn", "genus_hsn",
    "torus_regression_hsn",
}


def test_parity_configs_exist():
    assert PARITY_CONFIGS <= {config.stem for config in TRAINING_CONFIGS}


@pytest.mark.parametrize("config", TRAINING_CONFIGS, ids=lambda path: path.stem)
def test_config_trains_on_three_ranks_and_parity_configs_log_the_one_rank_loss(tmp_path, config):
    curves, runs = {}, {}
    for devices in (1, 3) if config.stem in PARITY_CONFIGS else (3,):
        cwd = tmp_path / f"devices{devices}"
        cwd.mkdir()
        runs[devices] = (cwd, [
            "fit", "--config", str(config), "--seed_everything", "0", "--trainer.accelerator", "cpu",
            "--trainer.devices", str(devices), "--trainer.max_steps", "5", *CSV,
            *(forked(config) if devices > 1 else []),
        ])
    for devices, result in topodist_runs(runs).items():
        cwd = runs[devices][0]
        assert result.returncode == 0, result.stderr[-3000:]
        curves[devices] = losses(cwd / "logs")
        (hparams,) = (cwd / "logs").glob("**/hparams.yaml")
        logged = yaml.safe_load(hparams.read_text())  # logged once: the resolved config, the partition
        if "partition" in logged:  # one partitioned complex (data-parallel configs have none)
            assert logged["partition"]["world_size"] == devices
        source = yaml.safe_load(config.read_text())["data"]["init_args"]["source"]
        assert yaml.safe_load(logged["config"])["data"]["init_args"]["source"] == source
        if devices > 1 and "partition" in logged and logged["partition"]["world_size"] > 1:
            assert len(logged["partition"]["halo_cells"]) == len(logged["partition"]["cell_imbalance"])
    assert len(curves[3]) == 5 and all(math.isfinite(loss) for loss in curves[3])
    if 1 in curves:
        assert len(curves[1]) == 5
        for one, three in zip(curves[1], curves[3], strict=True):
            assert abs(one - three) <= 1e-4 * abs(one)


# a user's run does not print the deprecation between Lightning 2.6 and torch 2.13 that the suite ignores elsewhere
@pytest.mark.filterwarnings("error:`isinstance\\(treespec, LeafSpec\\)` is deprecated:FutureWarning")
def test_default_logger_is_wandb_offline_and_a_checkpoint_is_left(tmp_path):
    result = topodist(tmp_path, "fit", "--config", str(CONFIGS / "karate_hsn.yaml"), "--trainer.max_steps", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert list((tmp_path / "runs" / "wandb").glob("offline-run-*"))
    assert "git root runs does not exist" not in result.stderr  # W&B's warning when its save_dir is not made first
    assert (tmp_path / "runs" / "karate_hsn" / "checkpoints" / "last.ckpt").is_file()
    tested = topodist(tmp_path, "test", "--config", str(CONFIGS / "karate_hsn.yaml"), "--ckpt_path", "last", *CSV)
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert "test/accuracy" in tested.stdout


def written_predictions(cwd: Path, output: str, n_cells: int) -> tuple[str, dict]:
    """The file a ``topodist predict`` run names in ``output`` (relative to ``cwd``), read back, and checked:
    every cell once, in order, each prediction the argmax of its outputs."""
    (path,) = re.findall(rf"wrote the predictions of {n_cells} cells to (\S+)", output)
    with np.load(cwd / path) as saved:
        written = dict(saved)
    assert written["cells"].tolist() == list(range(n_cells))
    assert written["predictions"].tolist() == written["outputs"].argmax(axis=-1).tolist()
    return path, written


def test_predict_writes_every_cell_once_and_one_rank_writes_what_two_do(tmp_path):
    config = str(CONFIGS / "torus_hsn.yaml")  # 2 ranks
    fitted = topodist(tmp_path, "fit", "--config", config, "--trainer.max_steps", "2", *CSV)
    assert fitted.returncode == 0, fitted.stderr[-3000:]
    # 2 ranks into the logger's directory, as topodist predict does by default; 1 rank where its writer says
    two = topodist(tmp_path, "predict", "--config", config, "--ckpt_path", "last", *CSV)
    one = topodist(tmp_path, "predict", "--config", config, "--ckpt_path", "last", "--trainer.devices", "1", *CSV,
                   "--trainer.callbacks+=topodist.training.PredictionWriter", "--trainer.callbacks.path", "one.npz")
    written = {}
    for devices, result in ((2, two), (1, one)):
        assert result.returncode == 0, result.stderr[-3000:]
        path, written[devices] = written_predictions(tmp_path, result.stderr, 60 * 30)  # the torus's nodes
    assert path == "one.npz" and len(list(tmp_path.glob("logs/**/predictions.npz"))) == 1
    for key in ("cells", "predictions"):
        assert np.array_equal(written[1][key], written[2][key])
    np.testing.assert_allclose(written[2]["outputs"], written[1]["outputs"], rtol=1e-5, atol=1e-6)


@RESUMING
def test_resuming_from_last_ends_with_the_uninterrupted_weights(tmp_path):
    config = str(CONFIGS / "karate_hsn.yaml")
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    straight.mkdir()
    resumed.mkdir()
    assert topodist(straight, "fit", "--config", config, "--trainer.max_steps", "6", *CSV).returncode == 0
    assert topodist(resumed, "fit", "--config", config, "--trainer.max_steps", "3", *CSV).returncode == 0
    again = topodist(resumed, "fit", "--config", config, "--trainer.max_steps", "6", "--ckpt_path", "last", *CSV)
    assert again.returncode == 0, again.stderr[-3000:]
    weights = [
        torch.load(cwd / "runs" / "karate_hsn" / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
        for cwd in (straight, resumed)
    ]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][key], weights[1][key]) for key in weights[0])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (["--model.init_args.network.init_args.backbone", "topodist.nn.simplicial.NoSuchNet"], "NoSuchNet"),
        (["--data.init_args.source", "no_such_dataset"], "data.source='no_such_dataset'"),
        (["--model.init_args.network.init_args.in_channels", "{0: 5}"],
         "model.init_args.network.init_args.in_channels[0]=5"),
        (["--model.init_args.network.init_args.inputs", "[x_0, incidence_5, adjacency_0]"],
         "'incidence_5', needed by the model"),
        (["--trainer.max_epoks", "3"], "unrecognized arguments: --trainer.max_epoks"),  # LightningCLI's own error
        (["--model.init_args.lrr", "0.1"], "'lrr'"),
        (["--data.init_args.nonfinite", "ignore"], "nonfinite"),
    ],
)
def test_a_bad_config_fails_before_training_naming_the_key(tmp_path, override, message):
    result = topodist(tmp_path, "fit", "--config", str(CONFIGS / "karate_hsn.yaml"), *override, *CSV)
    assert result.returncode != 0
    assert message in result.stderr
    assert not (tmp_path / "runs" / "karate_hsn" / "checkpoints").exists()  # no step was taken


def test_shared_trainer_and_logger_configs_compose(tmp_path):
    result = topodist(
        tmp_path, "fit", "--config", str(CONFIGS / "karate_hsn.yaml"), "--config", str(CONFIGS / "shared" / "cpu_ddp.yaml"),
        "--config", str(CONFIGS / "shared" / "logger_csv.yaml"), "--trainer.max_steps", "2",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (hparams,) = (tmp_path / "runs" / "csv").glob("*/hparams.yaml")
    assert yaml.safe_load(hparams.read_text())["partition"]["world_size"] == 2
    assert len(losses(tmp_path / "runs" / "csv")) == 2


def test_ddp_gets_topodist_collective_timeout_unless_the_config_sets_one(monkeypatch):
    import datetime

    from lightning.pytorch.strategies import DDPStrategy

    from topodist.training.cli import COLLECTIVE_TIMEOUT_ENV, apply_collective_timeout

    monkeypatch.delenv(COLLECTIVE_TIMEOUT_ENV, raising=False)
    default = DDPStrategy()
    apply_collective_timeout(default)
    assert default._timeout == datetime.timedelta(seconds=120)  # not torch's 30 minutes
    monkeypatch.setenv(COLLECTIVE_TIMEOUT_ENV, "7.5")
    from_env = DDPStrategy()
    apply_collective_timeout(from_env)
    assert from_env._timeout == datetime.timedelta(seconds=7.5)
    chosen = DDPStrategy(timeout=datetime.timedelta(seconds=900))
    apply_collective_timeout(chosen)
    assert chosen._timeout == datetime.timedelta(seconds=900)
    monkeypatch.setenv(COLLECTIVE_TIMEOUT_ENV, "soon")
    with pytest.raises(ValueError, match="TOPODIST_COLLECTIVE_TIMEOUT='soon'"):
        apply_collective_timeout(DDPStrategy())
