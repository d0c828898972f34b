"""Partitioned forward and backward equal the single-process run on the whole complex.

Every rank runs the same model twice: on the whole complex (torch sparse
neighborhoods, all features) and on its part (partitioned neighborhoods, owned
features). The partitioned outputs must equal the owned rows of the whole
outputs, the gradients of the owned input rows must equal theirs, and the
parameter gradients summed over ranks must equal the whole run's (relative
error <= 1e-5 in float32, <= 1e-10 in float64).
"""

import numpy as np
import pytest
import torch

from tests.distributed import stacks
from tests.distributed.harness import assert_parameter_gradients_sum_to, run_on_ranks
from tests.reference import TOLERANCE, relative_error
from topodist.base.conv import Conv
from topodist.data import simplicial_complex
from topodist.data.datasets import torus_mesh
from topodist.distributed import PartitionedComplex
from topodist.partition import assign_cells, build_shards

CHANNELS = 3


class Single(torch.nn.Module):
    """One layer through one neighborhood, for the base classes themselves."""

    def __init__(self, layer, name, source, target, with_target=False):
        super().__init__()
        self.layer, self.name, self.source, self.target, self.with_target = layer, name, source, target, with_target
        self.ranks = (target,)

    def forward(self, x, neighborhoods):
        x_target = x[self.target] if self.with_target else None
        return {self.target: self.layer(x[self.source], neighborhoods[self.name], x_target)}


def models(dtype):
    """(label, module) pairs, freshly seeded."""
    cases = []
    for aggr in ("sum", "mean"):
        for att in (False, True):
            cases.append((f"MessagePassing {aggr} att={att}", lambda a=aggr, t=att: Single(
                stacks.LinearMessagePassing(CHANNELS, 2, a, t), "adjacency_1", 1, 1)))
        cases.append((f"MessagePassing {aggr} B2^T", lambda a=aggr: Single(
            stacks.LinearMessagePassing(CHANNELS, 2, a, True), "incidence_2.T", 1, 2, with_target=True)))
    for norm in (False, True):
        # normalising by signed row sums (a Laplacian's) cancels to near zero: the nonnegative adjacency there
        name = "adjacency_1" if norm else "hodge_laplacian_1"
        for att in (False, True):
            if norm and att and dtype == torch.float32:
                # ELU attention weights can be negative, so attention-weighted row sums can cross zero
                # and the division amplifies the float32 rounding of a different summation order past
                # 1e-5 on some partitions; float64 checks this case.
                continue
            cases.append((f"Conv aggr_norm={norm} att={att}", lambda n=norm, t=att, m=name: Single(
                Conv(CHANNELS, 2, aggr_norm=n, att=t), m, 1, 1)))
        cases.append((f"Conv aggr_norm={norm} B1", lambda n=norm: Single(
            Conv(CHANNELS, 2, aggr_norm=n), "incidence_1", 1, 0)))
    for stack in (stacks.HSNShaped, stacks.SCN2Shaped, stacks.CWNShaped, stacks.PoolingReadout):
        for att in (False, True):
            cases.append((f"{stack.__name__} att={att}", lambda s=stack, t=att: s(CHANNELS, t)))
    built = []
    for label, build in cases:
        torch.manual_seed(0)
        built.append((label, build().to(dtype)))
    return built


def loss_of(outputs, weights, rows, world_size):
    """A loss over all cells whose sum over parts is the whole complex's loss."""
    total = 0
    for key, out in outputs.items():
        if key == "pooled":
            total = total + (out * weights[key]).sum() / world_size  # replicated on every part
        else:
            selected = weights[key] if rows is None else weights[key][rows[key]]
            total = total + (out * selected).sum()
    return total


def check_partition(rank, world_size, complex_name, parts_name):
    complex_ = COMPLEXES[complex_name]()
    parts = PARTS[parts_name](complex_, world_size)
    shard = build_shards(complex_, parts, stacks.NEIGHBORHOODS, world_size)[rank]
    rows = {r: torch.from_numpy(shard.owned_cells[r]) for r in range(len(complex_.n_cells))}
    generator = torch.Generator().manual_seed(1)
    for dtype in (torch.float32, torch.float64):
        partitioned = PartitionedComplex(shard, dtype=dtype)
        local = {name: partitioned.neighborhood(name) for name in stacks.NEIGHBORHOODS}
        whole = {name: complex_.neighborhood(name, dtype=dtype) for name in stacks.NEIGHBORHOODS}
        x = {r: torch.randn(n, CHANNELS, generator=generator, dtype=dtype) for r, n in enumerate(complex_.n_cells)}
        weights = {r: torch.randn(n, 2 * CHANNELS, generator=generator, dtype=dtype) for r, n in enumerate(complex_.n_cells)}
        weights["pooled"] = torch.randn(3 * CHANNELS, generator=generator, dtype=dtype)
        tolerance = TOLERANCE[dtype]
        for label, model in models(dtype):
            x_whole = {r: v.clone().requires_grad_() for r, v in x.items()}
            out_whole = model(x_whole, whole)
            weight = {k: weights[k][..., : out.shape[-1]] for k, out in out_whole.items()}
            loss_of(out_whole, weight, None, 1).backward()
            expected_grads = [p.grad.clone() for p in model.parameters()]
            model.zero_grad()

            x_part = {r: v[rows[r]].clone().requires_grad_() for r, v in x.items()}
            out_part = model(x_part, local)
            loss_of(out_part, weight, rows, world_size).backward()
            where = f"{label}, {dtype}, part {rank} of {world_size} ({complex_name}, {parts_name})"
            for key, out in out_part.items():
                expected = out_whole[key] if key == "pooled" else out_whole[key][rows[key]]
                assert relative_error(out, expected) <= tolerance, f"output {key}: {where}"
            for r in x:
                if x_whole[r].grad is not None:
                    error = relative_error(x_part[r].grad, x_whole[r].grad[rows[r]])
                    assert error <= tolerance, f"grad of x_{r} ({error:.2e}): {where}"
            assert_parameter_gradients_sum_to(model, expected_grads, tolerance, where)
            model.zero_grad()


def _corner():
    """Three triangles, a dangling edge, isolated nodes: parts without faces."""
    return simplicial_complex([np.array([[0, 1, 2], [1, 2, 3], [5, 6, 7], [6, 7, 8]]), np.array([[3, 4]])], n_nodes=11)


COMPLEXES = {"torus": lambda: torus_mesh(8, 5, seed=2), "corner": _corner}


def _empty_last_part(complex_, world_size):
    """Parts 0 .. P-2 share every rank (contiguously); the last part owns nothing."""
    return [np.arange(n) * max(world_size - 1, 1) // max(n, 1) for n in complex_.n_cells]


PARTS = {
    "metis": lambda c, p: assign_cells(c, p, "metis"),
    "random": lambda c, p: assign_cells(c, p, "random", seed=3),
    "contiguous": lambda c, p: assign_cells(c, p, "contiguous"),
    "empty_part": _empty_last_part,
}


@pytest.mark.parametrize("world_size", [1, 2, 3, 4])
@pytest.mark.parametrize("parts", ["metis", "random", "contiguous"])
def test_partitioned_equals_whole_on_a_torus(world_size, parts):
    run_on_ranks(check_partition, world_size, "torus", parts)


@pytest.mark.parametrize("parts", ["empty_part", "random"])
def test_parts_without_cells_of_some_rank(parts):
    # corner: 4 triangles over 4 parts at random leave parts without faces; empty_part: one part owns nothing
    run_on_ranks(check_partition, 4, "corner", parts)
