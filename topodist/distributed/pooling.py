r"""Top-k cell pooling over every part: the same cells are kept as on one device.

A pooling layer scores every cell and keeps the ``k`` best. Partitioned, the
scores of all parts are gathered (one all-reduce of one number per cell), every
part takes the same global top-k, keeps its own selected rows, and restricts
its neighborhoods and their halo plans to the kept cells. The restricted plans
need no communication: every part filters its send and receive lists by the
same global selection, so they stay matched. Kept cells are renumbered by
their rank in the top-k (as one device's ``index_select`` does), so the
pooled complex is again an ordinary partitioned one.
"""

from typing import NamedTuple

import numpy as np
import torch
import torch.distributed as dist

from topodist.distributed.halo_exchange import HaloExchanger
from topodist.distributed.neighborhood import PartitionedNeighborhood
from topodist.distributed.readout import gather_cells
from topodist.partition.plan import HaloPlan

__all__ = ["TopCells", "restrict_neighborhoods", "top_cells"]


class TopCells(NamedTuple):
    """The cells a top-k pooling keeps.

    Attributes
    ----------
    rows : torch.Tensor, shape = (n_kept_here,)
        Rows of this part's features to keep, in the order of the top-k.
    top : torch.Tensor, shape = (k,)
        Ids of every kept cell (in the numbering of the pooled input), best first; the same on every part.
    n_cells : int
        Number of cells before pooling, over every part.
    """

    rows: torch.Tensor
    top: torch.Tensor
    n_cells: int


def _partitioned(over) -> bool:
    return over is not None and hasattr(over, "group") and dist.is_initialized()


def top_cells(scores: torch.Tensor, ratio: float, over=None) -> TopCells:
    """The ``int(ratio * n_cells)`` cells of highest score, over every part.

    Parameters
    ----------
    scores : torch.Tensor, shape = (n_cells,)
        One score per cell of this part.
    ratio : float
        Fraction of the cells to keep.
    over : torch.sparse or PartitionedNeighborhood, optional
        A neighborhood whose target cells are the scored cells.

    Returns
    -------
    TopCells
    """
    scores = scores.detach().reshape(-1, 1)
    every = gather_cells(scores, over).reshape(-1)
    top = torch.topk(every, int(ratio * every.shape[0])).indices
    if not _partitioned(over):
        return TopCells(top, top, every.shape[0])
    position = torch.full((every.shape[0],), -1, dtype=torch.int64, device=scores.device)
    position[top] = torch.arange(top.shape[0], device=scores.device)
    mine = position[over.target_cells.to(scores.device)]
    kept = torch.nonzero(mine >= 0).reshape(-1)
    return TopCells(kept[torch.argsort(mine[kept])], top, every.shape[0])


def restrict_neighborhoods(neighborhoods: list, selection: TopCells) -> list:
    """The neighborhoods between the kept cells only, renumbered in top-k order.

    Parameters
    ----------
    neighborhoods : list of torch.sparse or PartitionedNeighborhood
        Square neighborhoods of the pooled cells' rank, shape = (n_cells, n_cells).
    selection : TopCells

    Returns
    -------
    list
        Shape = (k, k) each, or this part's rows of that.
    """
    restricted = []
    exchangers: dict[int, tuple] = {}
    for neighborhood in neighborhoods:
        if isinstance(neighborhood, torch.Tensor):
            top = selection.top.to(neighborhood.device)
            chosen = torch.index_select(torch.index_select(neighborhood, 0, top), 1, top)
            restricted.append(chosen.coalesce())
            continue
        key = id(neighborhood.exchanger)
        if key not in exchangers:
            exchangers[key] = _restrict_plan(neighborhood, selection)
        restricted.append(_restrict_local(neighborhood, selection, *exchangers[key]))
    return restricted


def _restrict_plan(neighborhood: PartitionedNeighborhood, selection: TopCells):
    """A halo plan for the kept cells: every list filtered by the same global selection."""
    exchanger, plan = neighborhood.exchanger, neighborhood.exchanger.plan
    position = np.full(selection.n_cells, -1, dtype=np.int64)
    position[selection.top.cpu().numpy()] = np.arange(len(selection.top))
    new_local = np.full(plan.n_owned, -1, dtype=np.int64)
    new_local[selection.rows.cpu().numpy()] = np.arange(len(selection.rows))
    world_size = len(plan.send_counts)
    sends = [new_local[plan.sent_to(peer)] for peer in range(world_size)]
    sends = [sent[sent >= 0] for sent in sends]
    received = [position[plan.received_from(peer)] for peer in range(world_size)]
    halo_kept = position[plan.halo_cells] >= 0
    halo_map = np.full(plan.n_halo, -1, dtype=np.int64)
    halo_map[halo_kept] = np.arange(int(halo_kept.sum()))
    restricted = HaloPlan(
        rank=plan.rank,
        n_owned=len(selection.rows),
        halo_cells=np.concatenate([cells[cells >= 0] for cells in received]) if received else np.zeros(0, np.int64),
        recv_counts=np.array([int((cells >= 0).sum()) for cells in received], dtype=np.int64),
        send_index=np.concatenate(sends) if sends else np.zeros(0, np.int64),
        send_counts=np.array([len(sent) for sent in sends], dtype=np.int64),
    )
    device = neighborhood.local.device
    new_exchanger = HaloExchanger(restricted, exchanger.group, device=device, validate=exchanger.validate)
    kept_positions = torch.as_tensor(position, device=device)[neighborhood.target_cells.to(device)][selection.rows]
    return (
        new_exchanger,
        torch.as_tensor(new_local, device=device),
        torch.as_tensor(halo_map, device=device),
        kept_positions,
    )


def _restrict_local(neighborhood, selection, exchanger, new_local, halo_map, kept_positions) -> PartitionedNeighborhood:
    local = neighborhood.local.coalesce()
    rows, columns = local.indices()
    n_owned = neighborhood.exchanger.n_owned
    new_rows = new_local[rows]
    is_halo = columns >= n_owned
    new_columns = torch.full_like(columns, -1)
    new_columns[~is_halo] = new_local[columns[~is_halo]]
    halo_columns = halo_map[columns[is_halo] - n_owned]
    new_columns[is_halo] = torch.where(halo_columns >= 0, halo_columns + len(selection.rows), -1)
    keep = (new_rows >= 0) & (new_columns >= 0)
    shape = (len(selection.rows), len(selection.rows) + exchanger.n_halo)
    restricted = torch.sparse_coo_tensor(
        torch.stack([new_rows[keep], new_columns[keep]]), local.values()[keep], shape, check_invariants=False
    ).coalesce()
    return PartitionedNeighborhood(
        restricted, exchanger, f"{neighborhood.name}[top]", neighborhood.ranks, target_cells=kept_positions
    )
