"""One check for every model of the zoo: the model on a part of a partitioned complex equals the model on the whole.

``forward(model, x, neighborhood)`` runs the model with features ``x`` (a dict
from cell rank to tensor) and ``neighborhood(name)`` (a torch sparse matrix of
the whole complex, or this part's partitioned neighborhood) and returns a list
of ``(cell_rank, output)``. Outputs and input and parameter gradients of the
loss ``sum of squared outputs`` must match the whole complex's at float64.
"""

import torch

from tests.distributed.harness import assert_parameter_gradients_sum_to
from tests.reference import relative_error
from topodist.distributed import PartitionedComplex
from topodist.partition import assign_cells, build_shards


def random_features(complex_, widths: dict, dtype=torch.float32, seed: int = 1) -> dict:
    """Standard normal features ``{cell_rank: (n_cells[rank], width)}``."""
    generator = torch.Generator().manual_seed(seed)
    return {k: torch.randn(complex_.n_cells[k], w, generator=generator, dtype=dtype) for k, w in widths.items()}


def assert_part_equals_whole(rank, world_size, complex_, names, widths, make_model, forward, method="metis"):
    """Run on every rank of a group; ``names`` are the neighborhoods to partition."""
    shard = build_shards(complex_, assign_cells(complex_, world_size, method, seed=0), names, world_size)[rank]
    part = PartitionedComplex(shard, dtype=torch.float64)
    torch.manual_seed(0)
    model = make_model().double()
    x = random_features(complex_, widths, torch.float64)
    rows = {k: torch.from_numpy(cells) for k, cells in shard.owned_cells.items()}

    whole_x = {k: v.clone().requires_grad_() for k, v in x.items()}
    whole = forward(model, whole_x, lambda name: complex_.neighborhood(name, dtype=torch.float64))
    sum((out**2).sum() for _, out in whole).backward()
    expected_grads = [p.grad.clone() if p.grad is not None else None for p in model.parameters()]
    model.zero_grad(set_to_none=True)

    part_x = {k: v[rows[k]].clone().requires_grad_() for k, v in x.items()}
    out = forward(model, part_x, part.neighborhood)
    sum((o**2).sum() for _, o in out).backward()
    assert len(out) == len(whole)
    for (cell_rank, got), (_, expected) in zip(out, whole, strict=True):
        assert relative_error(got, expected[rows[cell_rank]]) <= 1e-10, f"output on rank {cell_rank}"
    for k in widths:
        if whole_x[k].grad is not None:
            assert relative_error(part_x[k].grad, whole_x[k].grad[rows[k]]) <= 1e-10, f"gradient of x_{k}"
    assert_parameter_gradients_sum_to(model, expected_grads, 1e-10)
