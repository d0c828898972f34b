"""How good a partition is: halo sizes, traffic, edge cut and load balance."""

import numpy as np

from topodist.data.neighborhoods import neighborhood_ranks
from topodist.partition.plan import Shard

__all__ = ["combine_statistics", "format_statistics", "load_imbalance", "part_statistics", "partition_statistics"]


def partition_statistics(shards: list[Shard], channels: int = 64, bytes_per_value: int = 4) -> dict:
    """Statistics of a partition, as a JSON-serialisable dict.

    Parameters
    ----------
    shards : list of Shard
        All parts, from :func:`topodist.partition.build_shards`.
    channels : int, default=64
        Feature channels exchanged per halo cell.
    bytes_per_value : int, default=4
        Size of one feature value (4 for float32).

    Returns
    -------
    dict
        ``parts``: per part, owned and halo cells per rank, nnz, bytes received
        per exchange of every rank's features; ``halo_cells`` per rank (sum over
        parts); ``bytes_per_exchange`` (all ranks, all parts);
        ``edge_cut`` per neighborhood: stored entries whose source cell is
        remote; ``imbalance``: max / mean over parts of cells per rank and of
        nnz (1.0 is perfect).
    """
    if not shards:
        raise ValueError("partition_statistics needs at least one shard.")
    return combine_statistics([part_statistics(shard, channels, bytes_per_value) for shard in shards], channels)


def part_statistics(shard: Shard, channels: int = 64, bytes_per_value: int = 4) -> dict:
    """One part's share of :func:`partition_statistics`: what a rank can count alone.

    Returns
    -------
    dict
        ``part``, ``cells`` and ``halo_cells`` per rank, ``nnz``, ``recv_bytes``,
        and ``edge_cut`` per neighborhood.
    """
    ranks = range(len(shard.n_cells))
    halo = [shard.halo_plans[r].n_halo if r in shard.halo_plans else 0 for r in ranks]
    return {
        "part": shard.part,
        "cells": [len(shard.owned_cells[r]) for r in ranks],
        "halo_cells": halo,
        "nnz": sum(int(m.nnz) for m in shard.matrices.values()),
        "recv_bytes": sum(halo) * channels * bytes_per_value,
        "edge_cut": {
            name: int(np.count_nonzero(matrix.indices >= _n_owned_columns(shard, name)))
            for name, matrix in shard.matrices.items()
        },
    }


def combine_statistics(parts: list[dict], channels: int = 64) -> dict:
    """:func:`partition_statistics` from every part's :func:`part_statistics` (e.g. gathered from the ranks)."""
    rows = [{key: value for key, value in part.items() if key != "edge_cut"} for part in parts]
    edge_cut = {name: sum(part["edge_cut"][name] for part in parts) for name in parts[0]["edge_cut"]}
    cells = np.array([row["cells"] for row in rows], dtype=np.float64)
    nnz = np.array([row["nnz"] for row in rows], dtype=np.float64)
    halo_cells = np.array([row["halo_cells"] for row in rows], dtype=np.int64).sum(axis=0)
    return {
        "world_size": len(rows),
        "channels": channels,
        "parts": rows,
        "halo_cells": halo_cells.tolist(),
        "halo_volume": int(halo_cells.sum()),
        "bytes_per_exchange": int(sum(row["recv_bytes"] for row in rows)),
        "edge_cut": edge_cut,
        "total_edge_cut": int(sum(edge_cut.values())),
        "imbalance": {
            "cells": load_imbalance(cells.T).tolist(),
            "nnz": float(load_imbalance(nnz)),
        },
    }


def _n_owned_columns(shard: Shard, name: str) -> int:
    return len(shard.owned_cells[neighborhood_ranks(name)[1]])


def load_imbalance(loads: np.ndarray) -> np.ndarray:
    """Largest part's load over the mean part's, along the last axis.

    Parameters
    ----------
    loads : np.ndarray, shape = (..., world_size)
        Load of every part (cells, stored entries, a METIS constraint's weight).

    Returns
    -------
    np.ndarray, shape = (...)
        1.0 for perfectly balanced parts; loads summing to zero read 1.0.
    """
    loads = np.asarray(loads, dtype=np.float64)
    means = loads.mean(axis=-1)
    return np.where(means > 0, loads.max(axis=-1) / np.where(means > 0, means, 1.0), 1.0)


def format_statistics(statistics: dict) -> str:
    """Render :func:`partition_statistics` as Markdown tables.

    Parameters
    ----------
    statistics : dict

    Returns
    -------
    str
    """
    n_ranks = len(statistics["halo_cells"])
    header = ["part"] + [f"cells r{r}" for r in range(n_ranks)] + [f"halo r{r}" for r in range(n_ranks)]
    header += ["nnz", f"recv MiB ({statistics['channels']} ch)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    for row in statistics["parts"]:
        values = [row["part"], *row["cells"], *row["halo_cells"], row["nnz"]]
        lines.append(
            "| " + " | ".join(f"{v:,}" for v in values) + f" | {row['recv_bytes'] / 2**20:.2f} |"
        )
    lines += ["", "| neighborhood | edge cut |", "|---|---:|"]
    lines += [f"| {name} | {cut:,} |" for name, cut in statistics["edge_cut"].items()]
    imbalance = statistics["imbalance"]
    lines += [
        "",
        f"halo volume: {statistics['halo_volume']:,} cells "
        f"({', '.join(f'r{r}: {n:,}' for r, n in enumerate(statistics['halo_cells']))}); "
        f"{statistics['bytes_per_exchange'] / 2**20:.2f} MiB per exchange of all ranks",
        f"total edge cut: {statistics['total_edge_cut']:,}",
        "imbalance (max/mean): cells "
        + ", ".join(f"r{r} {v:.3f}" for r, v in enumerate(imbalance["cells"]))
        + f"; nnz {imbalance['nnz']:.3f}",
    ]
    return "\n".join(lines)
