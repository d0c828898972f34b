"""Vectorized builders equal TopoNetX on the same complex, and refuse bad input by name."""

import networkx as nx
import numpy as np
import pytest
import toponetx as tnx

from tests.data.toponetx_reference import assert_same_matrix, toponetx_matrix
from topodist.data import clique_complex, simplicial_complex, tetrahedral_mesh, triangle_mesh
from topodist.data.datasets import icosphere_mesh, torus_mesh

NAMES = ["incidence_1", "incidence_2", "hodge_laplacian_0", "hodge_laplacian_1", "adjacency_1", "coadjacency_2"]


def assert_equals_toponetx(ours, domain, names):
    assert ours.n_cells == tuple(domain.shape)
    for name in names:
        assert_same_matrix(ours.matrix(name), toponetx_matrix(domain, "simplicial", name))


@pytest.mark.parametrize("mesh", [lambda: torus_mesh(6, 4), lambda: icosphere_mesh(1)])
def test_triangle_mesh_equals_toponetx(mesh):
    ours = mesh()
    domain = tnx.SimplicialComplex(ours.cells[2].tolist())
    assert_equals_toponetx(ours, domain, NAMES)


def test_tetrahedral_mesh_equals_toponetx():
    points = np.random.default_rng(0).random((25, 3))
    from scipy.spatial import Delaunay

    tetrahedra = Delaunay(points).simplices
    ours = tetrahedral_mesh(tetrahedra, positions=points)
    domain = tnx.SimplicialComplex(tetrahedra.tolist())
    assert_equals_toponetx(ours, domain, NAMES + ["incidence_3", "hodge_laplacian_3", "up_laplacian_2"])


@pytest.mark.parametrize("max_rank", [2, 3])
@pytest.mark.parametrize("seed", [0, 1])
def test_clique_complex_equals_toponetx(max_rank, seed):
    graph = nx.gnp_random_graph(30, 0.3, seed=seed)
    graph.add_node(30)  # an isolated node
    ours = clique_complex(np.array(graph.edges), n_nodes=31, max_rank=max_rank)
    domain = tnx.transform.graph_to_clique_complex(graph, max_rank=max_rank)
    assert_equals_toponetx(ours, domain, NAMES + [f"incidence_{max_rank}"])


def test_mixed_dimension_simplices_and_isolated_nodes():
    ours = simplicial_complex([np.array([[0, 1, 2]]), np.array([[2, 3], [4, 5]])], n_nodes=7)
    domain = tnx.SimplicialComplex([[0, 1, 2], [2, 3], [4, 5], [6]])
    assert_equals_toponetx(ours, domain, NAMES[:4])


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: triangle_mesh(np.array([[0, 1, 2], [1, 1, 3]])), r"degenerate cell: faces\[1\] = \[1, 1, 3\]"),
        (lambda: triangle_mesh(np.zeros((0, 3), dtype=int)), "the mesh is empty"),
        (lambda: triangle_mesh(np.array([[0, 1, 2], [0, 1, 3], [0, 1, 4]])), r"non-manifold mesh: edge \[0, 1\] is shared by faces \[0, 1, 2\]"),
        (lambda: triangle_mesh(np.array([[0, 1, 2], [2, 1, 0]])), r"faces \[0, 1\] repeat the same cell"),
        (lambda: triangle_mesh([[0, 1, 2], [1, 2]]), "rectangular array of node ids"),
        (lambda: triangle_mesh(np.array([[0, 1, 2, 3]])), "must have 3 node ids per row"),
        (lambda: triangle_mesh(np.array([[0, -1, 2]])), r"faces\[0\] = \[0, -1, 2\] has a negative node id"),
        (lambda: triangle_mesh(np.array([[0, 1, 2]]), positions=np.array([[0, 0], [1, np.nan], [0, 1]])), "positions of node 1 are not finite"),
        (lambda: triangle_mesh(np.array([[0, 1, 5]]), n_nodes=4), "reference node 5 but n_nodes=4"),
        (lambda: triangle_mesh(np.array([[0.5, 1, 2]])), "integer node ids"),
        (lambda: tetrahedral_mesh(np.array([[0, 1, 2, 2]])), r"degenerate cell: cells\[0\]"),
        (lambda: clique_complex(np.zeros((0, 2), dtype=int)), "the graph is empty"),
        (lambda: clique_complex(np.array([[0, 1]]), max_rank=4), "max_rank=4"),
    ],
)
def test_bad_input_names_the_offending_cell(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_non_manifold_allowed_when_not_checked():
    ours = triangle_mesh(np.array([[0, 1, 2], [0, 1, 3], [0, 1, 4]]), check_manifold=False)
    assert ours.n_cells == (5, 7, 3)
