"""Halo plans and local matrices: the invariants every partition must keep."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from tests.partition.conftest import neighborhoods_of
from topodist.data.neighborhoods import neighborhood_ranks
from topodist.partition import PARTITION_METHODS, assign_cells, build_shards

WORLD_SIZES = [1, 2, 3, 4, 7]


def shards_of(complex_, method, world_size):
    names = neighborhoods_of(complex_)
    parts = assign_cells(complex_, world_size, method)
    return parts, names, build_shards(complex_, parts, names, world_size)


@pytest.mark.parametrize("method", PARTITION_METHODS)
@pytest.mark.parametrize("world_size", WORLD_SIZES)
def test_local_matrices_reassemble_every_global_matrix(complex_, method, world_size):
    _, names, shards = shards_of(complex_, method, world_size)
    for name in names:
        target, _ = neighborhood_ranks(name)
        rows, cols, values = [], [], []
        for shard in shards:
            local = shard.matrices[name].tocoo()
            rows.append(shard.owned_cells[target][local.row])
            cols.append(shard.global_columns(name)[local.col])
            values.append(local.data)
        expected = complex_.matrix(name)
        assembled = sp.csr_array(
            (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=expected.shape
        )
        assert assembled.nnz == expected.nnz, name  # no entry duplicated or lost
        assert (assembled != expected).nnz == 0, name


@pytest.mark.parametrize("method", PARTITION_METHODS)
@pytest.mark.parametrize("world_size", WORLD_SIZES)
def test_owned_cells_partition_each_rank(complex_, method, world_size):
    parts, _, shards = shards_of(complex_, method, world_size)
    for rank, n in enumerate(complex_.n_cells):
        owned = [shard.owned_cells[rank] for shard in shards]
        assert np.array_equal(np.sort(np.concatenate(owned)), np.arange(n))
        for shard, cells in zip(shards, owned, strict=True):
            assert np.all(np.diff(cells) > 0) and np.all(parts[rank][cells] == shard.part)


@pytest.mark.parametrize("method", PARTITION_METHODS)
@pytest.mark.parametrize("world_size", WORLD_SIZES)
def test_halos_are_exactly_the_referenced_remote_sources(complex_, method, world_size):
    parts, names, shards = shards_of(complex_, method, world_size)
    for shard in shards:
        for source, plan in shard.halo_plans.items():
            referenced = set()
            for name in names:
                if neighborhood_ranks(name)[1] != source:
                    continue
                matrix = shard.matrices[name]
                assert matrix.shape[1] == plan.n_owned + plan.n_halo
                referenced |= set(matrix.indices[matrix.indices >= plan.n_owned].tolist())
            # every halo column is used by some local row, and every used column is a halo column
            assert referenced == set(range(plan.n_owned, plan.n_owned + plan.n_halo))
            owners = parts[source][plan.halo_cells]
            assert np.all(owners != shard.part)
            assert np.array_equal(np.bincount(owners, minlength=world_size), plan.recv_counts)
            assert np.all(np.diff(owners) >= 0)  # grouped by owner, as all_to_all_single receives


@pytest.mark.parametrize("method", PARTITION_METHODS)
@pytest.mark.parametrize("world_size", WORLD_SIZES)
def test_send_lists_equal_receive_lists(complex_, method, world_size):
    _, _, shards = shards_of(complex_, method, world_size)
    for receiver in shards:
        for source, plan in receiver.halo_plans.items():
            for sender in shards:
                sent = sender.owned_cells[source][sender.halo_plans[source].sent_to(receiver.part)]
                assert np.array_equal(sent, plan.received_from(sender.part))
                assert sender.halo_plans[source].send_counts[receiver.part] == plan.recv_counts[sender.part]


def test_one_part_has_no_halo_and_the_whole_matrices():
    from topodist.data.datasets import torus_mesh

    complex_ = torus_mesh(8, 5)
    names = ["incidence_1", "incidence_2.T", "hodge_laplacian_1"]
    (shard,) = build_shards(complex_, assign_cells(complex_, 1, "metis"), names, 1)
    assert all(plan.n_halo == 0 and plan.send_index.size == 0 for plan in shard.halo_plans.values())
    for name in names:
        assert (shard.matrices[name] != complex_.matrix(name)).nnz == 0


def test_empty_parts_hold_empty_matrices():
    from topodist.data import simplicial_complex

    complex_ = simplicial_complex(np.array([[0, 1, 2]]), n_nodes=4)  # one triangle, an isolated node
    parts = [np.array([0, 0, 2, 2]), np.array([0, 2, 2]), np.array([2])]
    shards = build_shards(complex_, parts, ["incidence_1", "incidence_2", "incidence_2.T"], 4)
    for empty in (shards[1], shards[3]):
        assert all(len(cells) == 0 for cells in empty.owned_cells.values())
        assert all(matrix.shape[0] == 0 and matrix.nnz == 0 for matrix in empty.matrices.values())
        assert all(plan.n_halo == 0 and plan.send_index.size == 0 for plan in empty.halo_plans.values())


def test_shard_data_are_the_owned_rows(complex_):
    _, _, shards = shards_of(complex_, "metis", 3)
    for shard in shards:
        for rank, x in complex_.features.items():
            assert torch.equal(shard.features[rank], x[torch.from_numpy(shard.owned_cells[rank])])
        for split, by_rank in complex_.masks.items():
            for rank, mask in by_rank.items():
                assert torch.equal(shard.masks[split][rank], mask[torch.from_numpy(shard.owned_cells[rank])])


def test_local_neighborhood_as_torch_sparse():
    from topodist.data.datasets import torus_mesh

    complex_ = torus_mesh(8, 5)
    shards = build_shards(complex_, assign_cells(complex_, 2, "metis"), ["incidence_2"], 2)
    tensor = shards[0].neighborhood("incidence_2", "csr", torch.float64)
    assert tensor.layout == torch.sparse_csr and tensor.crow_indices().dtype == torch.int64
    assert np.array_equal(tensor.to_dense().numpy(), shards[0].matrices["incidence_2"].toarray())
    with pytest.raises(KeyError, match="was not partitioned"):
        shards[0].neighborhood("incidence_1")


def test_bad_assignments_are_refused():
    from topodist.data.datasets import torus_mesh

    complex_ = torus_mesh(4, 3)
    good = assign_cells(complex_, 2, "contiguous")
    with pytest.raises(ValueError, match="3 ranks"):
        build_shards(complex_, good[:2], ["incidence_1"], 2)
    with pytest.raises(ValueError, match=r"parts\[1\] has parts outside \[0, 2\)"):
        build_shards(complex_, [good[0], good[1] + 1, good[2]], ["incidence_1"], 2)
    with pytest.raises(ValueError, match=r"parts\[0\] must be 12 integers"):
        build_shards(complex_, [good[0][:5], good[1], good[2]], ["incidence_1"], 2)
