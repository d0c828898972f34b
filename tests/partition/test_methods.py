"""Cell assignment: every method covers every cell, is deterministic and balanced; METIS keeps cells together."""

import numpy as np
import pytest

from topodist.data import simplicial_complex
from topodist.data.datasets import torus_mesh
from topodist.data.datasets.synthetic import icosphere_mesh
from topodist.partition import PARTITION_METHODS, assign_cells, build_shards, copartition_from_nodes
from topodist.partition.methods import linked_rank_groups, part_imbalance


@pytest.mark.parametrize("method", PARTITION_METHODS)
@pytest.mark.parametrize("world_size", [1, 2, 3, 4, 16])
def test_every_cell_gets_one_part(complex_, method, world_size):
    parts = assign_cells(complex_, world_size, method)
    assert len(parts) == len(complex_.n_cells)
    for assignment, n in zip(parts, complex_.n_cells, strict=True):
        assert assignment.shape == (n,) and assignment.dtype == np.int64
        assert n == 0 or 0 <= assignment.min() <= assignment.max() < world_size
    assert all(np.array_equal(a, b) for a, b in zip(parts, assign_cells(complex_, world_size, method)))


@pytest.mark.parametrize("method", ["random", "contiguous"])
def test_index_methods_split_each_rank_evenly(complex_, method):
    for assignment, n in zip(assign_cells(complex_, 4, method), complex_.n_cells, strict=True):
        counts = np.bincount(assignment, minlength=4)
        assert counts.sum() == n and counts.max() - counts.min() <= 1


def test_contiguous_cuts_index_ranges():
    parts = assign_cells(torus_mesh(6, 4), 3, "contiguous")
    assert all(np.all(np.diff(assignment) >= 0) for assignment in parts)


def test_random_depends_on_the_seed():
    complex_ = torus_mesh(10, 6)
    first, again, other = (assign_cells(complex_, 4, "random", seed=s)[1] for s in (0, 0, 1))
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_metis_balances_every_rank_and_cuts_far_less_than_random():
    complex_ = torus_mesh(60, 30, seed=0)
    halo = {}
    for method in ("metis", "random"):
        parts = assign_cells(complex_, 4, method)
        if method == "metis":
            for assignment in parts:
                counts = np.bincount(assignment, minlength=4)
                assert counts.max() / counts.mean() <= 1.05
        shards = build_shards(complex_, parts, ["incidence_1", "incidence_1.T", "incidence_2", "incidence_2.T"], 4)
        halo[method] = sum(plan.n_halo for shard in shards for plan in shard.halo_plans.values())
    assert halo["metis"] * 10 < halo["random"]


def test_metis_uses_the_given_neighborhoods():
    complex_ = torus_mesh(30, 15)
    by_nodes = assign_cells(complex_, 4, "metis", neighborhoods=["adjacency_0"])[0]
    # a node partition made from node adjacency alone keeps most edges inside parts
    edges = complex_.cells[1]
    assert np.mean(by_nodes[edges[:, 0]] == by_nodes[edges[:, 1]]) > 0.8


@pytest.mark.parametrize("world_size", [2, 3, 4])
def test_metis_balances_a_model_that_touches_one_rank_only(world_size):
    """Edge Laplacians alone (SCNN, SAN): the edges are split evenly with a small halo, not all on one part."""
    complex_ = torus_mesh(40, 20, seed=0)
    names = ["down_laplacian_1", "up_laplacian_1"]
    parts = {method: assign_cells(complex_, world_size, method, names) for method in ("metis", "random")}
    for rank, assignment in enumerate(parts["metis"]):
        counts = np.bincount(assignment, minlength=world_size)
        assert counts.max() / counts.mean() <= 1.05, (rank, counts)
    halo = {method: sum(plan.n_halo for shard in build_shards(complex_, assignment, names, world_size)
                        for plan in shard.halo_plans.values())
            for method, assignment in parts.items()}
    assert 0 < halo["metis"] * 5 < halo["random"]


def _halo_cells(complex_, parts, names, world_size) -> int:
    return sum(plan.n_halo for shard in build_shards(complex_, parts, names, world_size)
               for plan in shard.halo_plans.values())


@pytest.mark.parametrize("world_size", [3, 4, 8])
def test_metis_balances_nodes_and_edges_under_a_node_adjacency(world_size):
    """HSN's neighborhoods: METIS under three constraints left one part 36-40% over the mean at P = 3 and 8."""
    complex_ = torus_mesh(60, 60, seed=0)
    names = ["incidence_1", "incidence_1.T", "adjacency_0"]
    parts = assign_cells(complex_, world_size, "metis", names)
    for rank in (0, 1):
        counts = np.bincount(parts[rank], minlength=world_size)
        assert counts.max() / counts.mean() <= 1.03, (rank, counts)
    random = assign_cells(complex_, world_size, "random", names)
    assert _halo_cells(complex_, parts, names, world_size) * 10 < _halo_cells(complex_, random, names, world_size)


@pytest.mark.parametrize("world_size", [2, 3, 4])
def test_metis_splits_every_rank_when_no_neighborhood_links_the_ranks(world_size):
    """SCN2's one adjacency per rank: every rank is cut into all the parts, not one rank per part."""
    complex_ = icosphere_mesh(3)
    names = ["kipf_adjacency_0", "kipf_adjacency_1", "kipf_coadjacency_2"]
    parts = assign_cells(complex_, world_size, "metis", names)
    for rank, assignment in enumerate(parts):
        counts = np.bincount(assignment, minlength=world_size)
        assert counts.max() / counts.mean() <= 1.05, (rank, counts)
    random = assign_cells(complex_, world_size, "random", names)
    assert _halo_cells(complex_, parts, names, world_size) * 5 < _halo_cells(complex_, random, names, world_size)


def test_linked_rank_groups_join_ranks_through_chains_of_neighborhoods():
    assert linked_rank_groups(["kipf_adjacency_0", "kipf_adjacency_1", "kipf_coadjacency_2"]) == [[0], [1], [2]]
    assert linked_rank_groups(["incidence_1", "adjacency_0"]) == [[0, 1]]
    assert linked_rank_groups(["incidence_2", "adjacency_0", "up_laplacian_1"]) == [[0], [1, 2]]
    assert linked_rank_groups(["incidence_2.T", "incidence_1", "adjacency_0"]) == [[0, 1, 2]]
    assert linked_rank_groups([]) == []


def test_part_imbalance_is_the_largest_part_over_the_mean_per_constraint():
    membership = np.array([0, 0, 0, 1, 2, 2])
    weights = np.array([[1, 5, 0], [1, 1, 0], [1, 1, 0], [1, 2, 0], [1, 1, 0], [1, 2, 0]])
    # parts' loads: counts 3, 1, 2 (mean 2); work 7, 2, 3 (mean 4); an all-zero column reads balanced
    np.testing.assert_allclose(part_imbalance(membership, weights, 3), [1.5, 1.75, 1.0])
    # a part with no vertex still counts in the mean
    np.testing.assert_allclose(part_imbalance(np.zeros(6, dtype=np.int64), weights, 2), [2.0, 2.0, 1.0])


@pytest.mark.parametrize("world_size", [0, -2, 2.5, True])
def test_world_size_must_be_a_positive_integer(world_size):
    with pytest.raises(ValueError, match="world_size"):
        assign_cells(torus_mesh(4, 3), world_size)


def test_unknown_method_is_named():
    with pytest.raises(ValueError, match="method='spectral'.*metis"):
        assign_cells(torus_mesh(4, 3), 2, "spectral")


def test_unknown_neighborhood_is_named():
    with pytest.raises(ValueError, match="unknown neighborhood 'incidence_one'"):
        assign_cells(torus_mesh(4, 3), 2, "metis", neighborhoods=["incidence_one"])


def test_copartition_follows_the_majority_of_nodes():
    complex_ = simplicial_complex(np.array([[0, 1, 2], [2, 3, 4]]))
    parts = copartition_from_nodes(complex_, np.array([0, 0, 1, 1, 1]))
    edges, triangles = complex_.cells[1], complex_.cells[2]
    expected_edges = [0 if {a, b} <= {0, 1} else 1 if {a, b} <= {2, 3, 4} else 0 for a, b in edges]
    assert parts[1].tolist() == expected_edges  # edges 0-2 and 1-2 tie: lowest part
    assert parts[2].tolist() == [0 if set(t) == {0, 1, 2} else 1 for t in triangles]


def test_copartition_checks_the_node_array():
    with pytest.raises(ValueError, match="node_parts must have shape"):
        copartition_from_nodes(torus_mesh(4, 3), np.zeros(5, dtype=int))
