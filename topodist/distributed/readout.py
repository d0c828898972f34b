"""Readouts over all the cells of a rank: one vector per complex, whether or not it is partitioned."""

from typing import Literal

import torch
import torch.distributed as dist

__all__ = ["gather_cells", "global_pool"]

READOUTS = ("sum", "mean", "max")


def global_pool(
    x: torch.Tensor, reduce: Literal["sum", "mean", "max"] = "sum", over=None
) -> torch.Tensor:
    r"""Pool the cells of one rank to one vector: :math:`\mathrm{AGG}_{c} \mathbf{x}_c`.

    Parameters
    ----------
    x : torch.Tensor, shape = (..., n_cells, channels)
        Features of the cells; on a partitioned complex, of the cells this part owns.
    reduce : {"sum", "mean", "max"}, default="sum"
    over : optional
        The neighborhood or complex ``x`` lives on. When it is partitioned (it
        has a process ``group``: a
        :class:`~topodist.distributed.PartitionedNeighborhood` or
        :class:`~topodist.distributed.PartitionedComplex`) the pool runs over
        the cells of every part with a differentiable all-reduce; otherwise it
        is local. Model code passes the neighborhood it already holds and so
        reads the same either way.

    Returns
    -------
    torch.Tensor, shape = (..., channels)
        The same on every part.
    """
    if reduce not in READOUTS:
        raise ValueError(f"reduce={reduce!r} is not a readout; choose one of {READOUTS}.")
    partitioned = over is not None and hasattr(over, "group") and dist.is_initialized()
    if not partitioned:
        if reduce == "max":
            return x.amax(dim=-2)
        return x.sum(dim=-2) if reduce == "sum" else x.mean(dim=-2)
    group = over.group  # None is the default group; autograd contexts keep no process group object alive
    if reduce == "max":
        # a part without cells still joins the graph (x.sum is zero but differentiable), so that
        # every part runs the same collectives in backward
        local = x.amax(dim=-2) if x.shape[-2] else x.sum(dim=-2) + torch.finfo(x.dtype).min
        return _AllGather.apply(local, group).amax(dim=0)
    total = _AllReduceSum.apply(x.sum(dim=-2), group)
    if reduce == "sum":
        return total
    count = torch.tensor([float(x.shape[-2])], dtype=x.dtype, device=x.device)
    dist.all_reduce(count, group=group)
    return total / count


def gather_cells(x: torch.Tensor, over=None) -> torch.Tensor:
    r"""The features of every cell of a rank, in global cell order, on every part.

    For the few models whose step is global by definition (DHGCN's k-nearest
    neighbours in feature space). Differentiable: each part gets back the
    gradient of its own rows, summed over the parts that used them.

    Parameters
    ----------
    x : torch.Tensor, shape = (n_cells, channels)
        Features of the cells; on a partitioned complex, of the cells this part owns.
    over : optional
        A neighborhood whose target cells are ``x``'s rows. When it is
        partitioned (it has a process ``group`` and ``target_cells``) the rows
        of every part are gathered; otherwise ``x`` is returned.

    Returns
    -------
    torch.Tensor, shape = (n_cells_of_every_part, channels)
    """
    partitioned = over is not None and hasattr(over, "group") and dist.is_initialized()
    if not partitioned:
        return x
    cells = over.target_cells
    if cells is None:
        raise ValueError("gather_cells needs the global ids of x's rows: a neighborhood with target_cells.")
    count = torch.tensor([float(x.shape[0])], dtype=torch.float64, device=x.device)
    dist.all_reduce(count, group=over.group)
    whole = x.new_zeros((int(count.item()), x.shape[1])).index_copy(0, cells.to(x.device), x)
    return _AllReduceSum.apply(whole, over.group)


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks; every rank's loss depends on the sum, so gradients are summed too."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, group) -> torch.Tensor:
        ctx.group = group
        total = x.clone()
        dist.all_reduce(total, group=group)
        return total

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, group=ctx.group)
        return grad, None


class _AllGather(torch.autograd.Function):
    """Stack every rank's tensor; each gets back the summed gradient of its own slice."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, group) -> torch.Tensor:
        ctx.group = group
        pieces = [torch.empty_like(x) for _ in range(dist.get_world_size(group))]
        dist.all_gather(pieces, x.contiguous(), group=group)
        return torch.stack(pieces)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, group=ctx.group)
        return grad[dist.get_rank(ctx.group)], None
