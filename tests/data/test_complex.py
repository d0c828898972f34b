"""Complex: neighborhoods against dense algebra on the incidences, caching, torch layouts, errors."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from topodist.data import Complex, triangle_mesh
from topodist.data.datasets import random_geometric_complex


@pytest.fixture(scope="module")
def square():
    """Two triangles sharing an edge, plus a dangling edge and an isolated node."""
    from topodist.data import simplicial_complex

    return simplicial_complex([np.array([[0, 1, 2], [1, 2, 3]]), np.array([[3, 4]])], n_nodes=6)


def dense(complex_, name):
    return complex_.matrix(name).toarray()


def test_neighborhoods_follow_their_formulas(square):
    b1, b2 = dense(square, "incidence_1"), dense(square, "incidence_2")
    assert b1.shape == (6, 6) and b2.shape == (6, 2)
    assert np.array_equal(b1 @ b2, np.zeros((6, 2)))  # boundary of a boundary
    assert np.array_equal(dense(square, "incidence_1_unsigned"), np.abs(b1))
    assert np.array_equal(dense(square, "up_laplacian_1"), b2 @ b2.T)
    assert np.array_equal(dense(square, "down_laplacian_1"), b1.T @ b1)
    assert np.array_equal(dense(square, "hodge_laplacian_1"), b1.T @ b1 + b2 @ b2.T)
    assert np.array_equal(dense(square, "hodge_laplacian_0"), b1 @ b1.T)
    assert np.array_equal(dense(square, "hodge_laplacian_2"), b2.T @ b2)
    up = np.abs(b1) @ np.abs(b1).T
    assert np.array_equal(dense(square, "adjacency_0"), up - np.diag(np.diag(up)))
    down = np.abs(b2).T @ np.abs(b2)
    assert np.array_equal(dense(square, "coadjacency_2"), down - np.diag(np.diag(down)))
    assert np.array_equal(dense(square, "incidence_0_2"), (np.abs(b1) @ np.abs(b2) > 0).astype(float))


def test_transpose_suffix_and_ranks(square):
    from topodist.data.neighborhoods import neighborhood_ranks

    assert np.array_equal(dense(square, "incidence_1.T"), dense(square, "incidence_1").T)
    assert np.array_equal(dense(square, "incidence_0_2.T"), dense(square, "incidence_0_2").T)
    assert neighborhood_ranks("incidence_2") == (1, 2)
    assert neighborhood_ranks("incidence_2.T") == (2, 1)
    assert neighborhood_ranks("incidence_1_unsigned.T") == (1, 0)
    assert neighborhood_ranks("incidence_0_2") == (0, 2)
    assert neighborhood_ranks("hodge_laplacian_1") == (1, 1)
    assert neighborhood_ranks("adjacency_0_2") == (0, 0)
    with pytest.raises(ValueError, match="unknown neighborhood"):
        neighborhood_ranks("laplacian_1.T")


def test_normalizations(square):
    laplacian = dense(square, "hodge_laplacian_1")
    degree = np.abs(laplacian).sum(axis=1)
    scale = np.where(degree > 0, 1 / np.sqrt(np.where(degree > 0, degree, 1)), 0)
    expected = scale[:, None] * laplacian * scale[None, :]
    assert np.allclose(dense(square, "sym_normalized_hodge_laplacian_1"), expected)
    largest = np.abs(np.linalg.eigvalsh(laplacian)).max()
    assert np.allclose(dense(square, "scaled_down_laplacian_1"), dense(square, "down_laplacian_1") / largest)
    adjacency = dense(square, "adjacency_0") + np.eye(6)
    d = adjacency.sum(axis=1)
    assert np.allclose(dense(square, "kipf_adjacency_0"), adjacency / np.sqrt(np.outer(d, d)))


def test_inverse_shifted_down_laplacian_keeps_the_adjacency_entries_of_the_dense_inverse():
    from topodist.data.neighborhoods import inverse_on_pattern

    complex_ = random_geometric_complex(40, 0.3, seed=1)
    inverse = np.linalg.pinv(dense(complex_, "down_laplacian_1") + np.eye(complex_.n_cells[1]))
    mask = (dense(complex_, "adjacency_1") != 0) | np.eye(complex_.n_cells[1], dtype=bool)
    assert mask.sum() > 2 * complex_.n_cells[1]
    assert np.allclose(dense(complex_, "inverse_shifted_down_laplacian_1"), np.where(mask, inverse, 0), atol=1e-12)
    # solved in blocks of right-hand sides: a block smaller than n gives the same entries
    shifted = complex_.matrix("down_laplacian_1") + sp.identity(complex_.n_cells[1], format="csr")
    pattern = complex_.matrix("adjacency_1") + sp.identity(complex_.n_cells[1], format="csr")
    blocked = inverse_on_pattern(shifted, pattern, block=7).toarray()
    assert np.allclose(blocked, np.where(mask, inverse, 0), atol=1e-12)


def test_adjacency_stores_no_diagonal_or_zeros(square):
    for name in ("adjacency_0", "adjacency_1", "coadjacency_1", "coadjacency_2"):
        matrix = square.matrix(name).tocoo()
        assert np.all(matrix.row != matrix.col) and np.all(matrix.data != 0)
    # the isolated node 5 has an empty row
    assert square.matrix("adjacency_0")[[5]].nnz == 0


def test_matrices_and_tensors_are_cached(square):
    assert square.matrix("hodge_laplacian_1") is square.matrix("hodge_laplacian_1")
    assert square.neighborhood("adjacency_1") is square.neighborhood("adjacency_1")
    assert square.neighborhood("adjacency_1", "csr") is not square.neighborhood("adjacency_1")


@pytest.mark.parametrize("layout", ["coo", "csr"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_neighborhoods(square, layout, dtype):
    tensor = square.neighborhood("hodge_laplacian_1", layout, dtype)
    assert tensor.dtype == dtype
    if layout == "coo":
        assert tensor.is_coalesced() and tensor.indices().dtype == torch.int64
    else:
        assert tensor.crow_indices().dtype == torch.int64 and tensor.col_indices().dtype == torch.int64
    assert np.array_equal(tensor.to_dense().double().numpy(), dense(square, "hodge_laplacian_1"))


def test_factored_laplacians_apply_like_the_assembled_ones():
    complex_ = random_geometric_complex(300, 0.12, max_rank=3, seed=1)
    x = torch.randn(2, complex_.n_cells[1], 4, dtype=torch.float64)
    for name in ("down_laplacian_1", "up_laplacian_1", "hodge_laplacian_1"):
        operator = complex_.factored(name, torch.float64)
        assembled = complex_.neighborhood(name, dtype=torch.float64)
        assert torch.allclose(operator @ x, torch.stack([assembled @ x[0], assembled @ x[1]]), atol=1e-10)
        assert operator.assembled_nnz_bound >= assembled._nnz()
    down = complex_.factored("down_laplacian_1")
    assert down.factored_nnz == 2 * complex_.matrix("incidence_1").nnz


def test_bad_requests_are_named(square):
    with pytest.raises(ValueError, match="unknown neighborhood 'laplacian_1'"):
        square.matrix("laplacian_1")
    with pytest.raises(ValueError, match="rank 7 does not exist"):
        square.matrix("adjacency_7")
    with pytest.raises(ValueError, match="incidences start at rank 1"):
        square.matrix("incidence_0")
    with pytest.raises(ValueError, match="up_laplacian_2: this simplicial complex has ranks 0..2"):
        square.matrix("up_laplacian_2")
    with pytest.raises(ValueError, match="layout='bsr'"):
        square.neighborhood("incidence_1", "bsr")
    with pytest.raises(ValueError, match="only Laplacians have a factored form"):
        square.factored("adjacency_0")


def test_construction_is_validated():
    incidence = sp.csr_array(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"incidence \(0, 1\) has shape \(3, 2\), expected \(4, 2\)"):
        Complex("simplicial", [4, 2], {(0, 1): incidence})
    with pytest.raises(ValueError, match="kind='graph'"):
        Complex("graph", [3, 2], {(0, 1): incidence})
    with pytest.raises(ValueError, match=r"features\[1\] must have 2 rows"):
        Complex("hypergraph", [3, 2], {(0, 1): incidence}, features={1: torch.zeros(3, 1)})
    with pytest.raises(TypeError, match=r"masks\['train'\]\[0\] must be boolean"):
        Complex("hypergraph", [3, 2], {(0, 1): incidence}, masks={"train": {0: torch.ones(3)}})


def test_mesh_keeps_its_cells_and_positions():
    mesh = triangle_mesh(np.array([[2, 1, 0]]), positions=np.eye(3))
    assert mesh.cells[2].tolist() == [[0, 1, 2]] and mesh.cells[1].tolist() == [[0, 1], [0, 2], [1, 2]]
    assert mesh.positions.shape == (3, 3)
