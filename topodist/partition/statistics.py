"""How good a partition is: halo sizes, traffic, edge cut and load balance."""

import numpy as np

from topodist.data.neighborhoods import neighborhood_ranks
from topodist.partition.plan import Shard

__all__ = ["format_statistics", "partition_statistics"]


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
    ranks = range(len(shards[0].n_cells))
    names = list(shards[0].matrices)
    rows = []
    for shard in shards:
        halo = {r: shard.halo_plans[r].n_halo if r in shard.halo_plans else 0 for r in ranks}
        rows.append(
            {
                "part": shard.part,
                "cells": [len(shard.owned_cells[r]) for r in ranks],
                "halo_cells": [halo[r] for r in ranks],
                "nnz": sum(int(m.nnz) for m in shard.matrices.values()),
                "recv_bytes": sum(halo.values()) * channels * bytes_per_value,
            }
        )
    edge_cut = {}
    for name in names:
        cut = 0
        for shard in shards:
            matrix = shard.matrices[name]
            cut += int(np.count_nonzero(matrix.indices >= _n_owned_columns(shard, name)))
        edge_cut[name] = cut
    cells = np.array([row["cells"] for row in rows], dtype=np.float64)
    nnz = np.array([row["nnz"] for row in rows], dtype=np.float64)
    halo_cells = np.array([row["halo_cells"] for row in rows], dtype=np.int64).sum(axis=0)
    return {
        "world_size": len(shards),
        "channels": channels,
        "parts": rows,
        "halo_cells": halo_cells.tolist(),
        "halo_volume": int(halo_cells.sum()),
        "bytes_per_exchange": int(sum(row["recv_bytes"] for row in rows)),
        "edge_cut": edge_cut,
        "total_edge_cut": int(sum(edge_cut.values())),
        "imbalance": {
            "cells": [_imbalance(cells[:, r]) for r in ranks],
            "nnz": _imbalance(nnz),
        },
    }


def _n_owned_columns(shard: Shard, name: str) -> int:
    return len(shard.owned_cells[neighborhood_ranks(name)[1]])


def _imbalance(load: np.ndarray) -> float:
    mean = load.mean()
    return float(load.max() / mean) if mean > 0 else 1.0


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
