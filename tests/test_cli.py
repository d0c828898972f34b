"""The topodist command line, run as a user runs it."""

import json
import subprocess
import sys
import warnings

import numpy as np

from tests.child_warnings import with_warning_filters
from topodist.data.datasets import torus_mesh
from topodist.data.storage import save_complex


def topodist(*arguments):
    return subprocess.run(
        [sys.executable, "-m", "topodist.cli", *arguments], env=with_warning_filters(),
        capture_output=True, text=True, timeout=120,
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
    assert down["factored_nnz"] == 2 * 360
    # degree 6: the factored form touches fewer entries but moves more bytes (its intermediate on the nodes)
    assert down["factored_bytes"] > down["assembled_bytes"] and down["cheaper"] == "assembled"


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


def test_partition_prints_statistics_as_json():
    result = topodist("partition", "torus:12x8", "--world-size", "3", "--json", "--channels", "8")
    assert result.returncode == 0, result.stderr
    statistics = json.loads(result.stdout)
    assert statistics["world_size"] == 3 and statistics["method"] == "metis"
    assert [sum(row["cells"][r] for row in statistics["parts"]) for r in range(3)] == [96, 288, 192]
    assert statistics["bytes_per_exchange"] == statistics["halo_volume"] * 8 * 4
    assert set(statistics["edge_cut"]) == {"incidence_1", "incidence_1.T", "incidence_2", "incidence_2.T"}


def test_partition_writes_reuses_and_refuses_stale_shards(tmp_path):
    out = str(tmp_path / "shards")
    first = topodist("partition", "torus:12x8", "--world-size", "2", "--out", out)
    assert first.returncode == 0, first.stderr
    assert "| part |" in first.stdout and f"wrote 2 shards in {out}" in first.stderr
    assert sorted(p.name for p in (tmp_path / "shards").iterdir()) == [
        "manifest.json", "part-00000.npz", "part-00001.npz"]
    again = topodist("partition", "torus:12x8", "--world-size", "2", "--out", out)
    assert again.returncode == 0 and "reused 2 shards" in again.stderr
    stale = topodist("partition", "torus:12x8", "--world-size", "2", "--method", "random", "--out", out)
    assert stale.returncode == 2 and "method='metis', not 'random'" in stale.stderr
    assert len(stale.stderr.strip().splitlines()) == 1
    rebuilt = topodist("partition", "torus:12x8", "--world-size", "2", "--method", "random", "--out", out, "--rebuild")
    assert rebuilt.returncode == 0 and "wrote 2 shards" in rebuilt.stderr
    # parts an earlier METIS partitioner chose: reused with a warning, replaced with --rebuild
    assert topodist("partition", "torus:12x8", "--world-size", "2", "--out", out, "--rebuild").returncode == 0
    manifest = json.loads((tmp_path / "shards" / "manifest.json").read_text())
    (tmp_path / "shards" / "manifest.json").write_text(json.dumps(manifest | {"partitioner_version": 1}))
    with warnings.catch_warnings():  # the command's warning is printed, not an error, in this one run
        warnings.filterwarnings("default", message=".*version 1 of topodist's 'metis'", category=UserWarning)
        older = topodist("partition", "torus:12x8", "--world-size", "2", "--out", out)
    assert older.returncode == 0 and "reused 2 shards" in older.stderr and "version 1 of topodist's" in older.stderr
    renewed = topodist("partition", "torus:12x8", "--world-size", "2", "--out", out, "--rebuild")
    assert renewed.returncode == 0 and "wrote 2 shards" in renewed.stderr and "version 1" not in renewed.stderr


def test_partition_names_a_bad_neighborhood():
    result = topodist("partition", "torus:6x4", "--world-size", "2", "--neighborhoods", "incidence_7")
    assert result.returncode == 2 and "incidence_7" in result.stderr


def test_partition_prints_the_per_part_table_and_saves_a_picture(tmp_path):
    from tests.partition.test_plot import png_size
    from topodist.partition.plot import FIGURE_PIXELS

    picture = tmp_path / "pictures" / "torus.png"
    result = topodist("partition", "torus:12x8", "--world-size", "3", "--plot", str(picture))
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [int(row.split("|")[1]) for row in rows[:3]] == [0, 1, 2]  # one row per part
    assert "imbalance (max/mean)" in result.stdout
    assert png_size(picture.read_bytes()) == FIGURE_PIXELS
    assert f"wrote the partition picture to {picture}" in result.stderr


def test_shards_needs_a_shard_directory_and_writes_what_training_reads(tmp_path):
    from tests.training.test_cli import CONFIGS

    config = str(CONFIGS / "torus_hsn.yaml")
    missing = topodist("shards", "--world-size", "2", "--config", config)
    assert missing.returncode == 2
    assert "set data.init_args.partition.shard_dir" in missing.stderr.splitlines()[-1]
    directory = tmp_path / "shards"
    first = topodist("shards", "--world-size", "2", "--config", config, "--data.init_args.partition.shard_dir", str(directory))
    assert first.returncode == 0, first.stderr[-2000:]
    assert f"wrote 2 shards in {directory}" in first.stdout
    manifest = json.loads((directory / "manifest.json").read_text())
    # the model's neighborhoods (HSN reads incidence_1 and adjacency_0), with the incidence's transpose
    assert set(manifest["parameters"]["neighborhoods"]) == {"incidence_1", "adjacency_0", "incidence_1.T"}
    again = topodist("shards", "--world-size", "2", "--config", config, "--data.init_args.partition.shard_dir", str(directory))
    assert f"reused 2 shards in {directory}" in again.stdout
