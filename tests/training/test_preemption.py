"""A signal during training: every rank stops after the same step, last.ckpt is written, the job exits 128 + signal,
and ``--ckpt_path last`` ends with the weights of an uninterrupted run (bit for bit on CPU, with dropout)."""

import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.training.test_cli import CONFIGS, CSV, RESUMING, _environment

CONFIG = str(CONFIGS / "hypergraph_unisage.yaml")  # cell dropout: the resumed run must continue the same stream
EPOCHS = ["--trainer.max_epochs", "40"]


def fit(cwd, *arguments) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "topodist.cli", "fit", "--config", CONFIG, *EPOCHS, *CSV, *arguments],
        cwd=cwd, env=_environment(cwd), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )


def final_weights(cwd) -> dict:
    return torch.load(cwd / "runs" / "hypergraph_unisage" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


@RESUMING
@pytest.mark.parametrize(("signum", "devices"), [(signal.SIGTERM, "2"), (signal.SIGUSR1, "1")])
def test_a_signalled_run_resumes_to_the_uninterrupted_weights(tmp_path, signum, devices):
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    straight.mkdir()
    interrupted.mkdir()
    reference = fit(straight, "--trainer.devices", devices)  # runs beside the interrupted run, uninterrupted
    last = interrupted / "runs" / "hypergraph_unisage" / "checkpoints" / "last.ckpt"
    with fit(interrupted, "--trainer.devices", devices) as run:
        deadline = time.monotonic() + 120
        while not last.exists() and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # training has started: the first epoch wrote last.ckpt
        run.send_signal(signum)  # to rank 0 only; the other rank learns it at the next step
        _, stderr = run.communicate(timeout=120)
    assert run.returncode == 128 + signum, stderr[-3000:]
    with reference:
        _, reference_stderr = reference.communicate(timeout=300)
        assert reference.returncode == 0, reference_stderr[-3000:]
    assert f"stopped by {signal.Signals(signum).name}" in stderr
    stopped_at = torch.load(last, weights_only=True)["epoch"]
    assert stopped_at < 39  # it did stop early

    with fit(interrupted, "--trainer.devices", devices, "--ckpt_path", "last") as run:
        _, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr[-3000:]
    expected, got = final_weights(straight), final_weights(interrupted)
    assert expected.keys() == got.keys()
    assert all(torch.equal(expected[key], got[key]) for key in expected)
