"""Checkpoints: atomic, verified against their sha256 record, loaded with weights_only=True."""

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from tests.training.test_cli import RESUMING
from topodist.training.checkpoints import CorruptCheckpointError, VerifiedCheckpointIO, checksum_path


def _checkpoint(value: float) -> dict:
    return {"state_dict": {"weight": torch.full((3, 2), value)}, "epoch": int(value)}


def test_round_trip_and_record(tmp_path):
    io = VerifiedCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint(_checkpoint(1.0), path)
    io.save_checkpoint(_checkpoint(2.0), path)
    loaded = io.load_checkpoint(path)
    assert torch.equal(loaded["state_dict"]["weight"], torch.full((3, 2), 2.0)) and loaded["epoch"] == 2
    assert len(json.loads(checksum_path(path).read_text())["sha256"]) == 1  # the old digest is dropped once renamed
    io.remove_checkpoint(path)
    assert not path.exists() and not checksum_path(path).exists()


@pytest.mark.parametrize("damage", ["flip", "truncate", "record"])
def test_a_damaged_checkpoint_is_refused_naming_the_file(tmp_path, damage):
    io = VerifiedCheckpointIO()
    path = tmp_path / "epoch=3.ckpt"
    io.save_checkpoint(_checkpoint(1.0), path)
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    elif damage == "truncate":
        path.write_bytes(bytes(data[: len(data) // 2]))
    else:
        checksum_path(path).write_text("{not json")
    with pytest.raises(CorruptCheckpointError, match="epoch=3.ckpt"):
        io.load_checkpoint(path)


WRITER = textwrap.dedent(
    """
    import os, sys, time, torch
    from topodist.training.checkpoints import VerifiedCheckpointIO
    io, path = VerifiedCheckpointIO(), sys.argv[1]
    io.save_checkpoint({"version": torch.tensor(1)}, path)
    rename = os.replace
    def slow_rename(source, target):
        if str(target) == path:  # the new checkpoint is written: hold before it takes the old one's place
            print("written", flush=True)
            time.sleep(60)
        rename(source, target)
    os.replace = slow_rename
    io.save_checkpoint({"version": torch.tensor(2), "payload": torch.zeros(1000, 1000)}, path)
    """
)


def test_a_kill_while_writing_leaves_the_previous_checkpoint(tmp_path):
    path = tmp_path / "last.ckpt"
    with subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True) as writer:
        try:
            assert writer.stdout.readline().strip() == "written"
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    leftovers = [name for name in os.listdir(tmp_path) if name.startswith(".last.ckpt.tmp-")]
    assert leftovers  # the new bytes were on disk, beside the checkpoint, when the writer died
    loaded = VerifiedCheckpointIO().load_checkpoint(path)
    assert loaded["version"].item() == 1


class _Payload:
    def __reduce__(self):
        return (os.system, (f"touch {_Payload.marker}",))


def test_a_checkpoint_that_would_run_code_is_refused_without_running_it(tmp_path):
    path = tmp_path / "evil.ckpt"
    _Payload.marker = tmp_path / "ran"
    path.write_bytes(pickle.dumps({"state_dict": {}, "hook": _Payload()}, protocol=2))
    io = VerifiedCheckpointIO()
    with pytest.warns(UserWarning, match="unverified"), pytest.raises(CorruptCheckpointError, match="weights_only"):
        io.load_checkpoint(path)  # no record: loaded unverified, but still as weights only
    assert not _Payload.marker.exists()
    with pytest.raises(ValueError, match="weights_only=True only"):
        io.load_checkpoint(path, weights_only=False)
    with pytest.raises(CorruptCheckpointError, match="no evil.ckpt.sha256"):
        VerifiedCheckpointIO(require_checksum=True).load_checkpoint(path)


@RESUMING
def test_the_cli_refuses_to_resume_from_a_modified_checkpoint_within_seconds(tmp_path):
    from tests.training.test_cli import CONFIGS, CSV, topodist

    config = str(CONFIGS / "karate_hsn.yaml")
    assert topodist(tmp_path, "fit", "--config", config, "--trainer.max_steps", "2", *CSV).returncode == 0
    last = tmp_path / "runs" / "karate_hsn" / "checkpoints" / "last.ckpt"
    data = bytearray(last.read_bytes())
    data[-100] ^= 0x01
    last.write_bytes(bytes(data))
    start = time.monotonic()
    again = topodist(tmp_path, "fit", "--config", config, "--trainer.max_steps", "4", "--ckpt_path", "last", *CSV)
    assert again.returncode != 0
    assert "last.ckpt is truncated or modified" in again.stderr
    assert time.monotonic() - start < 60
