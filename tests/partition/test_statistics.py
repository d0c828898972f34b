"""Partition statistics against counts made directly from the assignment."""

import json

import numpy as np
import pytest

from tests.partition.conftest import neighborhoods_of
from topodist.data.neighborhoods import neighborhood_ranks
from topodist.partition import assign_cells, build_shards
from topodist.partition.statistics import format_statistics, load_imbalance, partition_statistics


@pytest.mark.parametrize("method", ["metis", "random"])
def test_statistics_match_brute_force_counts(complex_, method):
    world_size, channels = 3, 16
    names = neighborhoods_of(complex_)
    parts = assign_cells(complex_, world_size, method)
    statistics = partition_statistics(build_shards(complex_, parts, names, world_size), channels=channels)

    halo = np.zeros((world_size, len(complex_.n_cells)), dtype=int)
    for source in {neighborhood_ranks(name)[1] for name in names}:
        for p in range(world_size):
            needed = set()
            for name in names:
                target, rank = neighborhood_ranks(name)
                if rank == source:
                    coo = complex_.matrix(name).tocoo()
                    mine = parts[target][coo.row] == p
                    needed |= {c for c in coo.col[mine].tolist() if parts[source][c] != p}
            halo[p, source] = len(needed)
    assert [row["halo_cells"] for row in statistics["parts"]] == halo.tolist()
    assert statistics["halo_volume"] == halo.sum()
    assert statistics["bytes_per_exchange"] == halo.sum() * channels * 4

    for name in names:
        target, source = neighborhood_ranks(name)
        coo = complex_.matrix(name).tocoo()
        assert statistics["edge_cut"][name] == int(np.sum(parts[target][coo.row] != parts[source][coo.col]))

    cells = np.array([np.bincount(p, minlength=world_size) for p in parts]).T
    for rank in range(len(complex_.n_cells)):
        mean = cells[:, rank].mean()
        expected = cells[:, rank].max() / mean if mean else 1.0
        assert statistics["imbalance"]["cells"][rank] == pytest.approx(expected)
    nnz = np.zeros(world_size)
    for name in names:
        target, _ = neighborhood_ranks(name)
        matrix = complex_.matrix(name)
        np.add.at(nnz, parts[target], np.diff(matrix.indptr))
    assert statistics["imbalance"]["nnz"] == pytest.approx(nnz.max() / nnz.mean())
    json.dumps(statistics)  # JSON-serialisable


def test_table_names_every_part_and_neighborhood(complex_):
    names = neighborhoods_of(complex_)
    statistics = partition_statistics(build_shards(complex_, assign_cells(complex_, 2, "metis"), names, 2))
    table = format_statistics(statistics)
    assert all(f"| {name} |" in table for name in names)
    assert [line.split("|")[1].strip() for line in table.splitlines()[2:4]] == ["0", "1"]
    assert "imbalance (max/mean)" in table and "halo volume" in table


def test_load_imbalance_is_the_largest_load_over_the_mean_along_the_last_axis():
    loads = np.array([[3.0, 1.0, 2.0], [0.0, 0.0, 0.0], [5.0, 5.0, 5.0]])
    np.testing.assert_allclose(load_imbalance(loads), [1.5, 1.0, 1.0])  # no load at all reads balanced
    assert load_imbalance(np.array([4, 0])) == pytest.approx(2.0)
