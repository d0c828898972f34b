"""Mesh files through meshio: every common format, and clear errors naming the file."""

import meshio
import numpy as np
import pytest

from tests.data.toponetx_reference import assert_same_matrix
from topodist.data.datasets import icosphere_mesh
from topodist.data.mesh_files import read_mesh


@pytest.mark.parametrize("extension", ["off", "obj", "ply", "vtk", "vtu", "msh", "stl"])
def test_formats_read_to_the_same_complex(tmp_path, extension):
    reference = icosphere_mesh(1)
    points = reference.positions.numpy()
    path = tmp_path / f"sphere.{extension}"
    meshio.write(path, meshio.Mesh(points, [("triangle", reference.cells[2])]))
    ours = read_mesh(path)
    assert ours.n_cells == reference.n_cells and ours.name == "sphere"
    if extension == "stl":  # STL stores triangle corners; meshio merges them in its own node order
        ordered = lambda p: p[np.lexsort(np.round(p, 5).T)]  # noqa: E731
        assert np.allclose(ordered(ours.positions.numpy()), ordered(points), atol=1e-6)
        return
    assert np.allclose(ours.positions.numpy(), points, atol=1e-6)
    assert_same_matrix(ours.matrix("incidence_2"), reference.matrix("incidence_2"))


def test_tetrahedra_win_over_triangles(tmp_path):
    points = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]], dtype=float)
    path = tmp_path / "tets.vtu"
    meshio.write(path, meshio.Mesh(points, [("tetra", np.array([[0, 1, 2, 3], [1, 2, 3, 4]])), ("triangle", np.array([[0, 1, 2]]))]))
    assert read_mesh(path).n_cells == (5, 9, 7, 2)


def test_bad_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.off does not exist"):
        read_mesh(tmp_path / "nowhere.off")
    garbage = tmp_path / "garbage.off"
    garbage.write_text("this is not a mesh\n")
    with pytest.raises(ValueError, match="cannot read mesh file .*garbage.off"):
        read_mesh(garbage)
    quads = tmp_path / "quads.vtu"
    meshio.write(quads, meshio.Mesh(np.random.rand(4, 3), [("quad", np.array([[0, 1, 2, 3]]))]))
    with pytest.raises(ValueError, match=r"quads.vtu has cell types \['quad'\]"):
        read_mesh(quads)
    nan_mesh = tmp_path / "nan.vtu"
    points = np.array([[0, 0, 0], [1, np.nan, 0], [0, 1, 0]])
    meshio.write(nan_mesh, meshio.Mesh(points, [("triangle", np.array([[0, 1, 2]]))]))
    with pytest.raises(ValueError, match="nan.vtu: positions of node 1 are not finite"):
        read_mesh(nan_mesh)
