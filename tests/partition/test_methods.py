"""Cell assignment: every method covers every cell, is deterministic and balanced; METIS keeps cells together."""

import numpy as np
import pytest

from topodist.data import simplicial_complex
from topodist.data.datasets import torus_mesh
from topodist.partition import PARTITION_METHODS, assign_cells, build_shards, copartition_from_nodes


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
