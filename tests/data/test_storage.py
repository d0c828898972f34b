"""Save/load round trips bit-exactly; corrupt, stale or half-written directories are refused."""

import json

import numpy as np
import pytest
import torch

from topodist.data import storage
from topodist.data.datasets import random_hypergraph, torus_mesh
from topodist.data.storage import load_complex, save_complex


def assert_same_complex(a, b):
    assert (a.kind, a.n_cells, a.name, a.complex_label) == (b.kind, b.n_cells, b.name, b.complex_label)
    assert a.incidences.keys() == b.incidences.keys()
    for key in a.incidences:
        x, y = a.incidences[key], b.incidences[key]
        assert np.array_equal(x.indptr, y.indptr) and np.array_equal(x.indices, y.indices)
        assert np.array_equal(x.data, y.data) and x.data.dtype == y.data.dtype
    for field in ("features", "labels"):
        mine, theirs = getattr(a, field), getattr(b, field)
        assert mine.keys() == theirs.keys()
        for rank in mine:
            assert mine[rank].dtype == theirs[rank].dtype and torch.equal(mine[rank], theirs[rank])
    assert {s: set(m) for s, m in a.masks.items()} == {s: set(m) for s, m in b.masks.items()}
    for split, by_rank in a.masks.items():
        for rank, mask in by_rank.items():
            assert torch.equal(mask, b.masks[split][rank])
    assert (a.positions is None) == (b.positions is None)
    if a.positions is not None:
        assert torch.equal(a.positions, b.positions)
    assert a.cells.keys() == b.cells.keys()
    for rank in a.cells:
        assert np.array_equal(a.cells[rank], b.cells[rank])


@pytest.mark.parametrize("build", [lambda: torus_mesh(8, 5, seed=3), lambda: random_hypergraph(50, 30, seed=1)])
@pytest.mark.parametrize("mmap", [True, False])
def test_round_trip_is_bit_exact(tmp_path, build, mmap):
    original = build()
    original.complex_label = 1
    save_complex(original, tmp_path / "complex")
    loaded = load_complex(tmp_path / "complex", mmap=mmap)
    assert_same_complex(original, loaded)
    name = "hodge_laplacian_1" if original.oriented else "adjacency_0_1"
    assert torch.equal(original.neighborhood(name).to_dense(), loaded.neighborhood(name).to_dense())


def test_files_load_without_pickle_and_memory_map(tmp_path):
    save_complex(torus_mesh(5, 4), tmp_path / "c")
    indices = np.load(tmp_path / "c" / "incidence_1_2.indices.npy", mmap_mode="r", allow_pickle=False)
    assert isinstance(indices, np.memmap) and indices.dtype == np.int64


def test_existing_directory_needs_overwrite_and_must_be_a_complex(tmp_path):
    save_complex(torus_mesh(5, 4), tmp_path / "c")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_complex(torus_mesh(6, 4), tmp_path / "c")
    save_complex(torus_mesh(6, 4), tmp_path / "c", overwrite=True)
    assert load_complex(tmp_path / "c").n_cells[0] == 24
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "thesis.tex").write_text("do not delete")
    with pytest.raises(FileExistsError, match="not a complex directory"):
        save_complex(torus_mesh(5, 4), tmp_path / "precious", overwrite=True)
    assert (tmp_path / "precious" / "thesis.tex").read_text() == "do not delete"


def test_crash_while_writing_leaves_previous_directory_intact(tmp_path, monkeypatch):
    first = torus_mesh(5, 4)
    save_complex(first, tmp_path / "c")
    written = []

    def failing_write(path, array):
        if len(written) == 3:
            raise OSError("disk full")
        written.append(path)
        return real_write(path, array)

    real_write = storage._write_array
    monkeypatch.setattr(storage, "_write_array", failing_write)
    with pytest.raises(OSError, match="disk full"):
        save_complex(torus_mesh(9, 7), tmp_path / "c", overwrite=True)
    assert_same_complex(first, load_complex(tmp_path / "c"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]  # no temporary left behind


def test_tampered_truncated_and_missing_files_are_refused(tmp_path):
    save_complex(torus_mesh(5, 4), tmp_path / "c")
    target = tmp_path / "c" / "incidence_1_2.data.npy"
    content = target.read_bytes()
    target.write_bytes(content[:-8] + np.float64(7.0).tobytes())
    with pytest.raises(ValueError, match="incidence_1_2.data.npy is corrupt or was modified"):
        load_complex(tmp_path / "c")
    target.write_bytes(content[: len(content) // 2])
    with pytest.raises(ValueError, match="corrupt or was modified"):
        load_complex(tmp_path / "c")
    target.unlink()
    with pytest.raises(ValueError, match="is missing"):
        load_complex(tmp_path / "c")


def test_manifest_problems_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest.json is missing"):
        load_complex(tmp_path)
    save_complex(torus_mesh(5, 4), tmp_path / "c")
    manifest_path = tmp_path / "c" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(ValueError, match="format version 99"):
        load_complex(tmp_path / "c")
    files = dict(manifest["files"])
    files.pop("positions.npy")
    manifest_path.write_text(json.dumps({**manifest, "files": files}))
    with pytest.raises(ValueError, match="does not match its content hash"):
        load_complex(tmp_path / "c")
    manifest_path.write_text("{not json")
    with pytest.raises(ValueError, match="manifest.json is corrupt"):
        load_complex(tmp_path / "c")
