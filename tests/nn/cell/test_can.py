"""CAN: TopoModelX state_dicts load and give its outputs (pooling too); 3 ranks equal 1 (dropout, global top-k)."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.distributed as dist

from tests.distributed.harness import assert_parameter_gradients_sum_to, run_on_ranks
from tests.nn.partitioned import assert_part_equals_whole, random_features
from tests.reference import relative_error
from topodist.data.datasets import cell_torus, icosphere_mesh
from topodist.distributed import PartitionedComplex
from topodist.nn.cell.can import CAN
from topodist.nn.cell.can_layer import CANLayer, PoolLayer
from topodist.partition import assign_cells, build_shards

NAMES = ["incidence_1.T", "down_laplacian_1", "up_laplacian_1"]


def upper_adjacency(complex_) -> torch.Tensor:
    """TopoModelX's lift input: one stored entry per edge (the upper triangle; edges are sorted node pairs)."""
    triu = sp.triu(complex_.matrix("adjacency_0")).tocoo()
    return torch.sparse_coo_tensor(
        np.vstack([triu.row, triu.col]), torch.ones(triu.nnz), triu.shape, check_invariants=True
    ).coalesce()


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"n_layers": 3, "pooling": True, "k_pool": 0.6},
        {"heads": 4, "concat": False, "att_lift": False, "n_layers": 1},
        {"version": "v2", "share_weights": True},
    ],
)
def test_loads_topomodelx_weights_and_matches_its_outputs(topomodelx, options):
    from topomodelx.nn.cell.can import CAN as Reference

    complex_ = icosphere_mesh(1)
    torch.manual_seed(0)
    reference = Reference(3, 2, 8, **options).eval()
    torch.manual_seed(0)
    ours = CAN(3, 2, 8, **options).eval()
    for (name, expected), got in zip(reference.state_dict().items(), ours.state_dict().values(), strict=True):
        assert torch.equal(got, expected), f"{name}: same seed, same initial weights"
    x = random_features(complex_, {0: 3, 1: 2})
    down, up = complex_.neighborhood("down_laplacian_1"), complex_.neighborhood("up_laplacian_1")
    expected = reference(x[0], x[1], upper_adjacency(complex_), down, up)
    assert relative_error(ours(x[0], x[1], upper_adjacency(complex_), down, up), expected) <= 1e-5
    # the partitionable lift input: the signed transposed incidence gives the same rows
    assert relative_error(ours(x[0], x[1], complex_.neighborhood("incidence_1.T"), down, up), expected) <= 1e-5


def test_a_neighborhood_without_entries_gives_zeros(topomodelx):
    from topomodelx.nn.cell.can_layer import CANLayer as ReferenceLayer

    complex_ = icosphere_mesh(0)
    empty = torch.sparse_coo_tensor(
        torch.zeros(2, 0, dtype=torch.long), torch.zeros(0), (30, 30), check_invariants=True
    )
    torch.manual_seed(0)
    reference, ours = ReferenceLayer(4, 6, heads=2).eval(), CANLayer(4, 6, heads=2).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = random_features(complex_, {1: 4})[1]
    down = complex_.neighborhood("down_laplacian_1")
    assert relative_error(ours(x, down, empty), reference(x, down, empty)) <= 1e-5


def test_pooling_keeps_the_best_scored_edges():
    complex_ = icosphere_mesh(1)
    torch.manual_seed(0)
    pool = PoolLayer(0.25, 4, torch.nn.Sigmoid())
    x = random_features(complex_, {1: 4})[1]
    down, up = complex_.neighborhood("down_laplacian_1"), complex_.neighborhood("up_laplacian_1")
    out, pooled_down, _ = pool(x, down, up)
    scores = (x @ pool.att_pool).squeeze(1)
    best = torch.argsort(scores, descending=True)[:30]
    assert torch.equal(pool.kept_cells, best)
    assert relative_error(out, x[best] * torch.sigmoid(scores[best]).unsqueeze(1)) <= 1e-6
    assert torch.equal(pooled_down.to_dense(), down.to_dense()[best][:, best])


def _partitioned(rank, world_size, complex_):
    shard = build_shards(complex_, assign_cells(complex_, world_size, "metis", seed=0), NAMES, world_size)[rank]
    return shard, PartitionedComplex(shard, dtype=torch.float64)


def same_model_on_a_part(rank, world_size):
    complex_ = cell_torus(9, 7)

    def forward(model, x, neighborhood):
        torch.manual_seed(11)  # the same dropout keys on every rank and on the whole complex
        return [(1, model(x[0], x[1], *(neighborhood(name) for name in NAMES)))]

    for make in (
        lambda: CAN(3, 2, 8, n_layers=2).eval(),
        lambda: CAN(3, 2, 8, n_layers=2, dropout=0.3).train(),  # lift, attention and layer dropout
        lambda: CAN(3, 2, 8, n_layers=1, version="v2", concat=False).train(),
    ):
        assert_part_equals_whole(rank, world_size, complex_, NAMES, {0: 3, 1: 2}, make, forward)


def test_three_ranks_equal_one_with_dropout_on():
    run_on_ranks(same_model_on_a_part, 3)


def same_pooled_model_on_a_part(rank, world_size):
    complex_ = cell_torus(9, 7)
    shard, part = _partitioned(rank, world_size, complex_)
    torch.manual_seed(0)
    model = CAN(3, 2, 8, n_layers=3, pooling=True, k_pool=0.6, dropout=0.2).double().train()
    x = random_features(complex_, {0: 3, 1: 2}, torch.float64)
    pools = [layer for layer in model.layers if isinstance(layer, PoolLayer)]

    whole_x = {k: v.clone().requires_grad_() for k, v in x.items()}
    torch.manual_seed(11)
    whole = model(whole_x[0], whole_x[1], *(complex_.neighborhood(name, dtype=torch.float64) for name in NAMES))
    whole_kept = [pool.kept_cells.clone() for pool in pools]
    (whole**2).sum().backward()
    expected = [p.grad.clone() if p.grad is not None else None for p in model.parameters()]
    model.zero_grad(set_to_none=True)

    rows = {k: torch.from_numpy(shard.owned_cells[k]) for k in (0, 1)}
    part_x = {k: x[k][rows[k]].clone().requires_grad_() for k in (0, 1)}
    torch.manual_seed(11)
    out = model(part_x[0], part_x[1], *(part.neighborhood(name) for name in NAMES))
    (out**2).sum().backward()
    # this part's output rows are the kept edges it owns: find them among the whole complex's kept rows
    where = (
        torch.stack([torch.nonzero(whole_kept[-1] == cell).reshape(()) for cell in pools[-1].kept_cells])
        if len(out)
        else torch.zeros(0, dtype=torch.long)
    )
    assert relative_error(out, whole[where]) <= 1e-10
    counts = torch.tensor([len(out)])
    dist.all_reduce(counts)
    assert counts.item() == len(whole) == int(0.6 * int(0.6 * complex_.n_cells[1]))
    for k in (0, 1):
        assert relative_error(part_x[k].grad, whole_x[k].grad[rows[k]]) <= 1e-10, f"gradient of x_{k}"
    assert_parameter_gradients_sum_to(model, expected, 1e-10)


def test_three_ranks_pool_the_same_edges_as_one():
    run_on_ranks(same_pooled_model_on_a_part, 3)
