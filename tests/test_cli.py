"""The topodist command line, run as a user runs it."""

import json
import subprocess
import sys

import numpy as np

from topodist.data.datasets import torus_mesh
from topodist.data.storage import save_complex


def topodist(*arguments):
    return subprocess.run(
        [sys.executable, "-m", "topodist.cli", *arguments], capture_output=True, text=True, timeout=120
    )


def test_inspect_prints_cells_betti_numbers_and_neighborhoods():
    result = topodist("inspect", "torus:12x8")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.split()[:3] == ["1", "288", "2"] for line in lines)  # rank 1: 288 edges, beta_1 = 2
    row = next(line for line in lines if line.startswith("hodge_laplacian_1 "))
    assert "288x288" in row and row.split()[-1] in ("factored", "assembled")


def test_inspect_json_of_a_saved_complex(tmp_path):
    save_complex(torus_mesh(10, 6), tmp_path / "torus")
    result = topodist("inspect", str(tmp_path / "torus"), "--json", "--neighborhoods", "incidence_2,down_laplacian_1")
    assert result.returncode == 0, result.stderr
    description = json.loads(result.stdout)
    assert description["cells"] == [60, 180, 120] and description["betti"] == [1, 2, 1]
    incidence, down = description["neighborhoods"]
    assert incidence["nnz"] == 360 and incidence["coo_bytes"] == 360 * 20
    assert down["factored_nnz"] == 2 * 360 and down["cheaper"] == "factored"


def test_inspect_reads_mesh_files(tmp_path):
    import meshio

    mesh = torus_mesh(6, 4)
    meshio.write(tmp_path / "torus.off", meshio.Mesh(mesh.positions.numpy(), [("triangle", mesh.cells[2])]))
    result = topodist("inspect", str(tmp_path / "torus.off"), "--json")
    assert json.loads(result.stdout)["cells"] == [24, 72, 48]


def test_bad_sources_fail_with_one_clear_line(tmp_path):
    result = topodist("inspect", "no-such-thing")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("topodist inspect: error: SOURCE 'no-such-thing' is neither")
    assert "Traceback" not in result.stderr
    result = topodist("inspect", "torus:5")
    assert result.returncode == 2 and "expects torus:N_MAJORxN_MINOR" in result.stderr
    (tmp_path / "empty").mkdir()
    result = topodist("inspect", str(tmp_path / "empty"))
    assert result.returncode == 2 and "not a saved complex" in result.stderr
    np.save(tmp_path / "not_a_mesh.npy", np.zeros(3))
    result = topodist("inspect", str(tmp_path / "not_a_mesh.npy"))
    assert result.returncode == 2 and "cannot read mesh file" in result.stderr
