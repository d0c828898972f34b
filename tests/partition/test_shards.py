"""Shard directories: round trip, reuse, and refusal of stale, corrupt or foreign directories."""

import json
import os
import warnings

import numpy as np
import pytest
import torch

from topodist.data.datasets import random_hypergraph, torus_mesh
from topodist.partition import assign_cells, build_shards
from topodist.partition import shards as shard_files
from topodist.partition.methods import PARTITIONER_VERSIONS
from topodist.partition.shards import load_shard, prepare_shards, read_shard_manifest

NAMES = ["incidence_1", "incidence_1.T", "incidence_2", "incidence_2.T", "hodge_laplacian_1"]


@pytest.fixture(scope="module")
def torus():
    return torus_mesh(10, 6, seed=4)


def assert_same_shard(a, b):
    assert (a.part, a.world_size, a.kind, a.n_cells) == (b.part, b.world_size, b.kind, b.n_cells)
    assert a.owned_cells.keys() == b.owned_cells.keys()
    assert all(np.array_equal(a.owned_cells[r], b.owned_cells[r]) for r in a.owned_cells)
    assert a.halo_plans.keys() == b.halo_plans.keys()
    for rank, plan in a.halo_plans.items():
        other = b.halo_plans[rank]
        assert plan.n_owned == other.n_owned
        for field in shard_files.HALO_FIELDS:
            assert np.array_equal(getattr(plan, field), getattr(other, field))
    assert list(a.matrices) == list(b.matrices)
    for name, matrix in a.matrices.items():
        other = b.matrices[name]
        assert matrix.shape == other.shape
        assert np.array_equal(matrix.indptr, other.indptr) and np.array_equal(matrix.indices, other.indices)
        assert np.array_equal(matrix.data, other.data) and matrix.data.dtype == other.data.dtype
    for field in ("features", "labels"):
        mine, theirs = getattr(a, field), getattr(b, field)
        assert mine.keys() == theirs.keys() and all(torch.equal(mine[r], theirs[r]) for r in mine)
    assert {s: set(m) for s, m in a.masks.items()} == {s: set(m) for s, m in b.masks.items()}
    assert all(torch.equal(m, b.masks[s][r]) for s, by_rank in a.masks.items() for r, m in by_rank.items())
    assert (a.positions is None and b.positions is None) or torch.equal(a.positions, b.positions)


@pytest.mark.parametrize("build", [lambda: torus_mesh(10, 6, seed=4), lambda: random_hypergraph(40, 20, seed=2)])
def test_round_trip_is_bit_exact(tmp_path, build):
    complex_ = build()
    names = ["incidence_0_1", "incidence_0_1.T"] if complex_.kind == "hypergraph" else NAMES
    manifest, reused = prepare_shards(complex_, tmp_path / "shards", 3, "metis", names)
    assert not reused and manifest["parameters"] == {"world_size": 3, "method": "metis", "neighborhoods": names, "seed": 0}
    expected = build_shards(complex_, assign_cells(complex_, 3, "metis", names), names, 3)
    for part in range(3):
        assert_same_shard(load_shard(tmp_path / "shards", part), expected[part])
    assert sorted(os.listdir(tmp_path)) == ["shards"]  # no temporary directory left behind


def test_a_matching_directory_is_reused_untouched(tmp_path, torus):
    prepare_shards(torus, tmp_path / "s", 2, "metis", NAMES)
    before = {name: os.stat(tmp_path / "s" / name).st_mtime_ns for name in os.listdir(tmp_path / "s")}
    _, reused = prepare_shards(torus, tmp_path / "s", 2, "metis", NAMES)
    assert reused
    assert before == {name: os.stat(tmp_path / "s" / name).st_mtime_ns for name in os.listdir(tmp_path / "s")}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"complex_": torus_mesh(10, 7, seed=4)}, "another complex"),
        ({"world_size": 3}, "world_size=2, not 3"),
        ({"method": "random"}, "method='metis', not 'random'"),
        ({"seed": 1}, "seed=0, not 1"),
        ({"neighborhoods": NAMES[:2]}, "neighborhoods="),
    ],
)
def test_a_stale_directory_is_refused_then_rebuilt_when_asked(tmp_path, torus, change, message):
    prepare_shards(torus, tmp_path / "s", 2, "metis", NAMES)
    arguments = {"complex_": torus, "directory": tmp_path / "s", "world_size": 2, "method": "metis",
                 "neighborhoods": NAMES} | change
    with pytest.raises(ValueError, match=message):
        prepare_shards(**arguments)
    manifest, reused = prepare_shards(**arguments, rebuild=True)
    assert not reused and read_shard_manifest(tmp_path / "s") == manifest
    assert len(manifest["files"]) == arguments["world_size"]
    assert sorted(os.listdir(tmp_path / "s")) == ["manifest.json"] + sorted(manifest["files"])


def test_load_checks_what_the_reader_expects(tmp_path, torus):
    prepare_shards(torus, tmp_path / "s", 2, "metis", NAMES)
    with pytest.raises(ValueError, match="world_size=2, not 4"):
        load_shard(tmp_path / "s", 0, world_size=4)
    with pytest.raises(ValueError, match="part=2 is outside this 2-part"):
        load_shard(tmp_path / "s", 2)


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_a_corrupt_shard_is_refused(tmp_path, torus, damage):
    prepare_shards(torus, tmp_path / "s", 2, "metis", NAMES)
    path = tmp_path / "s" / "part-00001.npz"
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "flip":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 1
        path.write_bytes(bytes(data))
    else:
        path.unlink()
    load_shard(tmp_path / "s", 0)  # the other part still reads
    with pytest.raises(ValueError, match="part-00001.npz is (truncated or modified|missing)"):
        load_shard(tmp_path / "s", 1)
    with pytest.raises(ValueError, match="part-00001.npz"):
        prepare_shards(torus, tmp_path / "s", 2, "metis", NAMES)
    _, reused = prepare_shards(torus, tmp_path / "s", 2, "metis", NAMES, rebuild=True)
    assert not reused and load_shard(tmp_path / "s", 1).part == 1


def test_a_garbled_manifest_is_refused(tmp_path, torus):
    prepare_shards(torus, tmp_path / "s", 2, "metis", NAMES)
    (tmp_path / "s" / "manifest.json").write_text("{not json")
    with pytest.raises(ValueError, match="manifest.json is corrupt"):
        load_shard(tmp_path / "s", 0)
    (tmp_path / "s" / "manifest.json").write_text(json.dumps({"format": "topodist-complex"}))
    with pytest.raises(ValueError, match="not a topodist-shards manifest"):
        load_shard(tmp_path / "s", 0)


def test_a_foreign_directory_is_never_replaced(tmp_path, torus):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a shard directory"):
        prepare_shards(torus, tmp_path / "results", 2, "metis", NAMES, rebuild=True)
    assert (tmp_path / "results" / "notes.txt").read_text() == "keep me"
    with pytest.raises(FileNotFoundError, match="manifest.json is missing"):
        load_shard(tmp_path / "results", 0)


def test_a_failed_write_keeps_the_old_directory(tmp_path, torus, monkeypatch):
    manifest, _ = prepare_shards(torus, tmp_path / "s", 2, "metis", NAMES)
    calls, savez = [], np.savez

    def failing_savez(handle, **arrays):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        savez(handle, **arrays)

    monkeypatch.setattr(shard_files.np, "savez", failing_savez)
    with pytest.raises(OSError, match="disk full"):
        prepare_shards(torus, tmp_path / "s", 2, "random", NAMES, rebuild=True)
    monkeypatch.undo()
    assert len(calls) == 2  # the first shard was written, the second failed
    assert sorted(os.listdir(tmp_path)) == ["s"]
    assert read_shard_manifest(tmp_path / "s") == manifest
    load_shard(tmp_path / "s", 1, method="metis")


KILLED_WRITER = """
import sys, time, numpy as np
from topodist.data.datasets import torus_mesh
from topodist.partition import shards
savez, calls = np.savez, []
def slow_savez(handle, **arrays):
    calls.append(1)
    savez(handle, **arrays)
    if len(calls) == 1:  # one shard of the new partition is on disk: hold here until killed
        print("writing", flush=True)
        time.sleep(60)
shards.np.savez = slow_savez
shards.prepare_shards(torus_mesh(10, 6, seed=4), sys.argv[1], 2, "random", sys.argv[2:], rebuild=True)
"""


def test_a_kill_while_writing_keeps_the_old_directory(tmp_path, torus):
    import signal
    import subprocess
    import sys

    manifest, _ = prepare_shards(torus, tmp_path / "s", 2, "metis", NAMES)
    before = load_shard(tmp_path / "s", 1, method="metis")
    command = [sys.executable, "-c", KILLED_WRITER, str(tmp_path / "s"), *NAMES]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as writer:
        try:
            assert writer.stdout.readline().strip() == "writing"
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    assert read_shard_manifest(tmp_path / "s") == manifest  # the old partition, whole and verified
    assert_same_shard(load_shard(tmp_path / "s", 1, method="metis"), before)


def forget_partitioner_version(directory) -> int:
    """Drop the manifest's ``partitioner_version``, as in directories written before it was recorded; return it."""
    path = directory / "manifest.json"
    manifest = json.loads(path.read_text())
    version = manifest.pop("partitioner_version")
    path.write_text(json.dumps(manifest))
    return version


def test_parts_of_an_earlier_partitioner_are_reused_with_a_warning_and_rebuilt_when_asked(tmp_path, torus):
    prepare_shards(torus, tmp_path / "s", 2, "metis", NAMES)
    assert forget_partitioner_version(tmp_path / "s") == PARTITIONER_VERSIONS["metis"] == 2
    before = {name: os.stat(tmp_path / "s" / name).st_mtime_ns for name in os.listdir(tmp_path / "s")}
    with pytest.warns(UserWarning, match="version 1 of topodist's 'metis' partitioner, which now .version 2."):
        manifest, reused = prepare_shards(torus, tmp_path / "s", 2, "metis", NAMES)
    assert reused and "partitioner_version" not in manifest
    assert before == {name: os.stat(tmp_path / "s" / name).st_mtime_ns for name in os.listdir(tmp_path / "s")}
    manifest, reused = prepare_shards(torus, tmp_path / "s", 2, "metis", NAMES, rebuild=True)
    assert not reused and read_shard_manifest(tmp_path / "s")["partitioner_version"] == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the current partitioner's directory is reused silently
        assert prepare_shards(torus, tmp_path / "s", 2, "metis", NAMES)[1]


def test_directories_of_a_method_that_did_not_change_are_reused_silently(tmp_path, torus):
    prepare_shards(torus, tmp_path / "s", 2, "random", NAMES)
    assert forget_partitioner_version(tmp_path / "s") == PARTITIONER_VERSIONS["random"] == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert prepare_shards(torus, tmp_path / "s", 2, "random", NAMES)[1]
