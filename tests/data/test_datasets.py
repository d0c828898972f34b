"""Datasets are deterministic by seed, split cleanly, and carry tasks that neighborhoods help solve."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from topodist.data.datasets import (
    cell_torus,
    combinatorial_torus,
    grid_mesh,
    icosphere_mesh,
    karate_club,
    mesh_genus_dataset,
    random_geometric_complex,
    random_hypergraph,
    torus_mesh,
)
from topodist.data.inspect import betti_numbers

BUILDERS = {
    "grid": lambda seed: grid_mesh(12, seed=seed),
    "torus": lambda seed: torus_mesh(40, 16, seed=seed),
    "icosphere": lambda seed: icosphere_mesh(2, seed=seed),
    "rgg": lambda seed: random_geometric_complex(400, 0.09, seed=seed),
    "hypergraph": lambda seed: random_hypergraph(200, 150, seed=seed),
    "karate": lambda seed: karate_club(seed=seed),
    "cell_torus": lambda seed: cell_torus(20, 8, seed=seed),
    "combinatorial_torus": lambda seed: combinatorial_torus(20, 8, seed=seed),
}


@pytest.mark.parametrize("name", BUILDERS)
def test_deterministic_by_seed_and_masks_partition_the_labelled_cells(name):
    a, b, c = BUILDERS[name](0), BUILDERS[name](0), BUILDERS[name](1)
    for rank in a.labels:
        assert torch.equal(a.features.get(rank, torch.zeros(0)), b.features.get(rank, torch.zeros(0)))
        assert torch.equal(a.masks["train"][rank], b.masks["train"][rank])
        assert not torch.equal(a.masks["train"][rank], c.masks["train"][rank])
        total = sum(a.masks[split][rank].long() for split in ("train", "val", "test"))
        assert torch.all(total == 1)
        assert len(torch.unique(a.labels[rank])) >= 2


def mean_over_neighbors(adjacency, x):
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    return (adjacency @ x) / degree[:, None]


@pytest.mark.parametrize("name", ["torus", "icosphere", "rgg", "grid", "cell_torus", "combinatorial_torus"])
def test_node_task_is_noisy_per_node_and_solvable_from_neighbors(name):
    complex_ = BUILDERS[name](0)
    labels = complex_.labels[0].numpy()
    noisy = complex_.features[0][:, :1].numpy().astype(np.float64)
    threshold = np.median(noisy)
    alone = np.mean((noisy[:, 0] > threshold) == labels)
    adjacency = complex_.matrix("adjacency_0")
    smoothed = noisy
    for _ in range(2):
        smoothed = mean_over_neighbors(adjacency + sp.eye_array(adjacency.shape[0]), smoothed)
    together = np.mean((smoothed[:, 0] > np.median(smoothed)) == labels)
    assert 0.55 < alone < 0.85 and together > alone + 0.08, (alone, together)


def test_hypergraph_communities_are_solvable_from_hyperedges():
    complex_ = random_hypergraph(600, 900, seed=0)
    labels, x = complex_.labels[0].numpy(), complex_.features[0].numpy().astype(np.float64)
    alone = np.mean(x.argmax(axis=1) == labels)
    adjacency = sp.csr_array(complex_.matrix("adjacency_0_1")) + sp.eye_array(600)
    together = np.mean(mean_over_neighbors(adjacency, x).argmax(axis=1) == labels)
    assert alone < 0.8 and together > alone + 0.1, (alone, together)


def test_hypergraph_members_are_drawn_from_whole_communities():
    complex_ = random_hypergraph(1000, 2000, seed=0)
    degree = torch.sparse.sum(complex_.neighborhood("incidence_1"), dim=1).to_dense()
    # about 8,000 memberships over 1,000 nodes: a node is in none with probability about e^-8
    assert (degree == 0).sum() <= 5
    sizes = torch.sparse.sum(complex_.neighborhood("incidence_1"), dim=0).to_dense()
    assert sizes.min() >= 2 and sizes.max() <= 6 and abs(sizes.mean().item() - 4) < 0.2


def test_edge_flow_labels_follow_the_field():
    complex_ = torus_mesh(10, 6, noise=0.0)
    edges = complex_.cells[1]
    rise = complex_.features[1][:, 0].numpy()
    assert np.array_equal(complex_.labels[1].numpy(), (rise > 0).astype(np.int64))
    assert edges.shape == (complex_.n_cells[1], 2)


def test_faces_and_tetrahedra_carry_the_mean_field_of_their_nodes():
    complex_ = random_geometric_complex(200, 0.15, max_rank=3, noise=0.0, seed=2)
    clean = complex_.features[0][:, 0].double().numpy()  # noise 0: node features are the field
    for rank in (2, 3):
        expected = clean[complex_.cells[rank]].mean(axis=1)
        assert complex_.features[rank].shape == (complex_.n_cells[rank], 2)
        assert np.allclose(complex_.features[rank][:, 0].numpy(), expected, atol=1e-5)
        assert torch.equal(complex_.features[rank][:, 1], torch.ones(complex_.n_cells[rank]))
    noisy = random_geometric_complex(200, 0.15, max_rank=3, noise=1.0, seed=2)
    assert not np.allclose(noisy.features[2][:, 0].numpy(), complex_.features[2][:, 0].numpy(), atol=1e-3)


def test_mesh_genus_dataset_labels_match_topology():
    dataset = mesh_genus_dataset(8, seed=3)
    assert [c.complex_label for c in dataset] == [0, 1] * 4
    for complex_ in dataset:
        expected = [1, 0, 1] if complex_.complex_label == 0 else [1, 2, 1]
        assert betti_numbers(complex_) == expected
        assert complex_.features[0].shape == (complex_.n_cells[0], 3)


def test_karate_labels_are_the_two_clubs():
    complex_ = karate_club()
    assert complex_.n_cells == (34, 78, 45, 11, 2)
    assert int(complex_.labels[0].sum()) == 17  # 17 members follow the officer
    assert complex_.labels[0][0] == 0 and complex_.labels[0][33] == 1


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="n_major=2"):
        torus_mesh(2, 5)
    with pytest.raises(ValueError, match="side=1"):
        grid_mesh(1)
    with pytest.raises(ValueError, match="subdivisions=-1"):
        icosphere_mesh(-1)


def test_zero_classes_give_regression_targets():
    from topodist.data.datasets import torus_mesh

    regression, classes = torus_mesh(12, 8, n_classes=0), torus_mesh(12, 8)
    assert regression.labels[0].dtype == torch.float32 and regression.labels[1].dtype == torch.float32
    # the classes are the median split of the same field the regression targets give
    median = regression.labels[0].median()
    agree = ((regression.labels[0] > median) == (classes.labels[0] == 1)).float().mean()
    assert agree > 0.9  # (ties at the median fall on either side)
    assert torch.equal(regression.features[0], classes.features[0])
    edges = regression.cells[1]
    rise = regression.labels[0][edges[:, 1]] - regression.labels[0][edges[:, 0]]
    assert torch.allclose(regression.labels[1], rise, atol=1e-6)
    with pytest.raises(ValueError, match="n_classes=-1"):
        torus_mesh(6, 4, n_classes=-1)


def test_the_cell_torus_is_a_torus_of_squares():
    complex_ = cell_torus(7, 5)
    assert complex_.kind == "cell" and complex_.n_cells == (35, 70, 35)
    boundary_1, boundary_2 = complex_.matrix("incidence_1"), complex_.matrix("incidence_2")
    assert abs(boundary_1 @ boundary_2).sum() == 0  # the boundary of a boundary is zero
    assert (np.diff(boundary_2.tocsc().indptr) == 4).all() and (np.diff(boundary_2.indptr) == 2).all()
    assert betti_numbers(complex_) == [1, 2, 1]
    corners = complex_.cells[2]
    for face in range(0, 35, 6):  # the corners of a square, in order, are joined by its edges
        edges = complex_.cells[1][boundary_2[:, [face]].tocoo().row]
        pairs = {tuple(sorted((corners[face, k], corners[face, (k + 1) % 4]))) for k in range(4)}
        assert {tuple(edge) for edge in edges.tolist()} == pairs


def test_the_combinatorial_torus_has_the_same_cells_unsigned():
    cells, combinatorial = cell_torus(6, 4), combinatorial_torus(6, 4)
    assert combinatorial.kind == "combinatorial" and combinatorial.n_cells == cells.n_cells
    for name in ("incidence_1", "incidence_2", "adjacency_0", "adjacency_1", "coadjacency_2"):
        assert (abs(combinatorial.matrix(name)) != abs(cells.matrix(name))).nnz == 0, name
        assert combinatorial.matrix(name).min() >= 0, name
