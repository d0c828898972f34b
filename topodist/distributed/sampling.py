"""Random subsets of a neighborhood's entries, drawn per global cell so that every part draws what one device draws."""

import torch

from topodist.distributed.neighborhood import PartitionedNeighborhood
from topodist.ops.dropout import entry_uniform

__all__ = ["sample_row_entries"]


def sample_row_entries(neighborhood, k: int):
    """Keep at most ``k`` stored entries per row, a uniform random subset.

    Each entry gets a number from a hash of (one key drawn from torch's
    generator per call, its row's global id, its column's global id); a row
    keeps its ``k`` entries of smallest number. A row's entries all live on the
    part that owns the row, so a partitioned neighborhood keeps exactly the
    entries one device keeps.

    Parameters
    ----------
    neighborhood : torch.sparse or PartitionedNeighborhood, shape = (n_rows, n_columns)
    k : int
        Non-negative.

    Returns
    -------
    torch.sparse or PartitionedNeighborhood
        The same kind, rows and columns, with the kept entries.
    """
    if k < 0:
        raise ValueError(f"k={k} must be non-negative.")
    partitioned = isinstance(neighborhood, PartitionedNeighborhood)
    local = (neighborhood.local if partitioned else neighborhood).coalesce()
    rows, columns = local.indices()
    if partitioned and neighborhood.target_cells is None:
        raise ValueError("sampling a partitioned neighborhood needs the global ids of its rows (target_cells).")
    number = entry_uniform(rows, columns, 1, neighborhood).reshape(-1)
    order = torch.argsort(rows.to(torch.float64) + number)  # by row, then by number within the row
    counts = torch.bincount(rows, minlength=local.shape[0])
    starts = torch.cumsum(counts, 0) - counts
    position = torch.empty_like(order)
    position[order] = torch.arange(order.numel(), device=order.device)
    keep = (position - starts[rows]) < k
    kept = torch.sparse_coo_tensor(local.indices()[:, keep], local.values()[keep], local.shape, check_invariants=False)
    kept = kept.coalesce()
    if not partitioned:
        return kept
    return PartitionedNeighborhood(
        kept,
        neighborhood.exchanger,
        f"sample({neighborhood.name}, {k})",
        neighborhood.ranks,
        target_cells=neighborhood.target_cells,
        source_cells=neighborhood.source_cells,
    )
