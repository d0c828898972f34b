"""The halo exchange itself: rows received, gradients returned, bytes, zero-row peers, bad input on one rank."""

import numpy as np
import pytest
import torch

from tests.distributed.harness import run_on_ranks
from topodist.data.datasets import torus_mesh
from topodist.distributed import HaloExchanger, PartitionedComplex, exchange_halo
from topodist.partition import assign_cells, build_shards
from topodist.partition.plan import HaloPlan


def _shard(rank, world_size, method="metis"):
    complex_ = torus_mesh(8, 5, seed=2)
    parts = assign_cells(complex_, world_size, method)
    return complex_, build_shards(complex_, parts, ["incidence_2", "adjacency_1", "hodge_laplacian_1"], world_size)[rank]


def check_rows_and_gradients(rank, world_size):
    complex_, shard = _shard(rank, world_size)
    exchanger = HaloExchanger(shard.halo_plans[1])
    # features are global ids: every received row must name the halo cell it belongs to
    x = torch.arange(complex_.n_cells[1], dtype=torch.float64).unsqueeze(-1).repeat(1, 2)
    owned = torch.from_numpy(shard.owned_cells[1])
    x_owned = x[owned].clone().requires_grad_()
    halo = exchange_halo(x_owned, exchanger, "adjacency_1")
    assert torch.equal(halo[:, 0], torch.from_numpy(shard.halo_plans[1].halo_cells).double())
    # backward: each owned row gets one unit per peer that holds it in its halo
    halo.sum().backward()
    copies = np.zeros(complex_.n_cells[1])
    for other in range(world_size):
        copies[_shard(other, world_size)[1].halo_plans[1].halo_cells] += 1
    assert torch.equal(x_owned.grad[:, 0], torch.from_numpy(copies[shard.owned_cells[1]]))
    # bytes, 2 float64 channels: forward the plan's send rows, backward the halo rows' gradients
    sent_rows, halo_rows = int(shard.halo_plans[1].send_counts.sum()), shard.halo_plans[1].n_halo
    assert exchanger.bytes_sent == (sent_rows + halo_rows) * 2 * 8
    assert exchanger.bytes_received == (halo_rows + sent_rows) * 2 * 8  # forward the halo, backward the sent rows
    assert exchanger.traffic == {"adjacency_1": [exchanger.bytes_sent, exchanger.bytes_received]}
    assert exchanger.total_seconds >= exchanger.exposed_seconds > 0


@pytest.mark.parametrize("world_size", [2, 3])
def test_rows_and_gradients_go_to_the_right_cells(world_size):
    run_on_ranks(check_rows_and_gradients, world_size)


def check_batch_dimensions(rank, world_size):
    complex_, shard = _shard(rank, world_size)
    exchanger = HaloExchanger(shard.halo_plans[1])
    x = torch.randn(4, 2, complex_.n_cells[1], 3, generator=torch.Generator().manual_seed(0))
    halo = exchange_halo(x[..., torch.from_numpy(shard.owned_cells[1]), :], exchanger)
    assert torch.equal(halo, x[..., torch.from_numpy(shard.halo_plans[1].halo_cells), :])


def test_leading_batch_dimensions_are_exchanged():
    run_on_ranks(check_batch_dimensions, 3)


def check_zero_row_peers(rank, world_size):
    """Rank 0 sends to rank 1 only; ranks 1 and 2 send nothing; rank 2 receives nothing."""
    sends = {0: ([0, 3, 0], [2, 4, 5]), 1: ([0, 0, 0], []), 2: ([0, 0, 0], [])}
    receives = {0: [], 1: [7, 9, 10], 2: []}
    counts, index = sends[rank]
    plan = HaloPlan(
        rank=0, n_owned=6, halo_cells=np.array(receives[rank], dtype=np.int64),
        recv_counts=np.array([3 if rank == 1 else 0, 0, 0]), send_index=np.array(index, dtype=np.int64),
        send_counts=np.array(counts),
    )
    x = (torch.arange(6, dtype=torch.float32) + 10 * rank).unsqueeze(-1).requires_grad_()
    halo = exchange_halo(x, HaloExchanger(plan))
    expected = torch.tensor([[2.0], [4.0], [5.0]]) if rank == 1 else torch.zeros(0, 1)
    assert torch.equal(halo, expected)
    halo.sum().backward()
    assert x.grad.tolist() == ([[0], [0], [1], [0], [1], [1]] if rank == 0 else [[0]] * 6)


def test_ranks_that_send_or_receive_nothing_take_part():
    run_on_ranks(check_zero_row_peers, 3)


def check_bad_rows_on_one_rank(rank, world_size):
    complex_, shard = _shard(rank, world_size)
    exchanger = HaloExchanger(shard.halo_plans[1])
    n_owned = len(shard.owned_cells[1])
    x = torch.randn(n_owned + (1 if rank == 1 else 0), 2)  # rank 1 passes one row too many
    expected = "this part owns" if rank == 1 else "another part passed features"
    with pytest.raises(ValueError, match=expected):
        exchange_halo(x, exchanger)
    # the group is still usable afterwards: nothing was left half-sent
    assert exchange_halo(torch.randn(n_owned, 2), exchanger).shape == (shard.halo_plans[1].n_halo, 2)


def test_bad_features_on_one_rank_raise_on_every_rank():
    run_on_ranks(check_bad_rows_on_one_rank, 3)


def check_mismatched_channels(rank, world_size):
    _, shard = _shard(rank, world_size)
    exchanger = HaloExchanger(shard.halo_plans[1])
    x = torch.randn(len(shard.owned_cells[1]), 3 if rank == 0 else 2)
    with pytest.raises(ValueError, match="different row shapes or dtypes"):
        exchange_halo(x, exchanger)


def test_ranks_with_different_channels_all_raise():
    run_on_ranks(check_mismatched_channels, 2)


def check_one_exchange_per_tensor(rank, world_size):
    complex_, shard = _shard(rank, world_size)
    partitioned = PartitionedComplex(shard)
    x = torch.randn(len(shard.owned_cells[1]), 4)
    adjacency, laplacian = partitioned.neighborhood("adjacency_1"), partitioned.neighborhood("hodge_laplacian_1")
    adjacency @ x
    laplacian @ x  # same tensor, same plan: no second exchange
    torch.sparse.mm(adjacency, x)
    sent_rows = int(shard.halo_plans[1].send_counts.sum())
    assert partitioned.bytes_sent() == sent_rows * 4 * 4
    laplacian @ (2 * x)  # a new tensor is exchanged
    assert partitioned.bytes_sent() == 2 * sent_rows * 4 * 4
    # counted under the neighborhood that started each exchange
    halo_rows = shard.halo_plans[1].n_halo
    assert partitioned.exchangers[1].traffic == {
        "adjacency_1": [sent_rows * 16, halo_rows * 16], "hodge_laplacian_1": [sent_rows * 16, halo_rows * 16]
    }


def test_a_tensor_is_exchanged_once_per_plan():
    run_on_ranks(check_one_exchange_per_tensor, 3)


def test_a_cached_halo_goes_with_the_features_it_was_exchanged_for():
    from topodist.distributed.halo_exchange import RecentHalos

    halos = RecentHalos()
    kept, dropped = torch.randn(4, 2), torch.randn(4, 2)
    halos.put(kept, torch.randn(1, 2))
    halos.put(dropped, torch.randn(1, 2))
    assert halos.get(dropped) is not None
    del dropped  # not only when pushed out by later ones
    assert len(halos.entries) == 1 and halos.get(kept) is not None
