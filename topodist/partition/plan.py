r"""Per-part halo plans and local neighborhood matrices.

Given an assignment of cells to parts (:mod:`topodist.partition.methods`), part
:math:`p` owns, for each rank, the cells assigned to it, numbered locally in
increasing global id. For each neighborhood :math:`N` (target rank :math:`t`,
source rank :math:`s`) it holds the rows of its owned target cells; the columns
of those rows are the owned source cells (local ids ``0 .. n_owned - 1``)
followed by the **halo**: source cells owned elsewhere that some local row
references (local ids ``n_owned ..``). All neighborhoods with the same source
rank share one halo, so one exchange of that rank's features serves them all.

The halo is ordered by owner, then by global id, so the rows received from
each peer are contiguous: ``recv_counts[q]`` rows from part ``q``, in the
order of ``all_to_all_single``'s output. Part ``q`` sends part ``p`` its owned
rows ``send_index`` (local ids, grouped by receiving part in increasing order,
``send_counts[p]`` each), which are exactly the rows ``p`` receives from ``q``.
"""

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import scipy.sparse as sp
import torch

from topodist.data.complex import Complex
from topodist.data.neighborhoods import neighborhood_ranks
from topodist.data.sparse import to_torch_sparse

__all__ = ["HaloPlan", "Shard", "build_shards"]


@dataclass(frozen=True)
class HaloPlan:
    """What one part exchanges with its peers for the features of one rank.

    Attributes
    ----------
    rank : int
        The rank of the cells exchanged.
    n_owned : int
        Cells of that rank owned by this part.
    halo_cells : np.ndarray, shape = (n_halo,)
        Global ids of the halo cells, grouped by owner (increasing), then by id.
    recv_counts : np.ndarray, shape = (world_size,)
        Halo rows received from each part (0 from itself).
    send_index : np.ndarray, shape = (sum(send_counts),)
        Local ids of owned cells to send, grouped by receiving part.
    send_counts : np.ndarray, shape = (world_size,)
        Rows sent to each part.
    """

    rank: int
    n_owned: int
    halo_cells: np.ndarray
    recv_counts: np.ndarray
    send_index: np.ndarray
    send_counts: np.ndarray

    @property
    def n_halo(self) -> int:
        """Number of halo cells."""
        return len(self.halo_cells)

    def received_from(self, peer: int) -> np.ndarray:
        """Global ids of the halo cells owned by ``peer``, in receive order."""
        start = int(self.recv_counts[:peer].sum())
        return self.halo_cells[start : start + int(self.recv_counts[peer])]

    def sent_to(self, peer: int) -> np.ndarray:
        """Local ids of the owned cells sent to ``peer``, in send order."""
        start = int(self.send_counts[:peer].sum())
        return self.send_index[start : start + int(self.send_counts[peer])]


@dataclass
class Shard:
    """Everything one part needs to run a model on its share of a complex.

    Attributes
    ----------
    part, world_size : int
    kind : str
        The complex's kind.
    n_cells : tuple of int
        Global cell counts per rank.
    owned_cells : dict of int to np.ndarray
        Rank -> global ids of the owned cells, increasing; local id = position.
    halo_plans : dict of int to HaloPlan
        Source rank -> its halo plan.
    matrices : dict of str to scipy.sparse.csr_array
        Neighborhood name -> local matrix, shape = (n_owned[target], n_owned[source] + n_halo[source]).
    features, labels : dict of int to torch.Tensor
        Rank -> rows of the owned cells.
    masks : dict of str to dict of int to torch.Tensor
        Split -> rank -> mask of the owned cells.
    positions : torch.Tensor or None
        Coordinates of the owned nodes.
    """

    part: int
    world_size: int
    kind: str
    n_cells: tuple[int, ...]
    owned_cells: dict[int, np.ndarray]
    halo_plans: dict[int, HaloPlan]
    matrices: dict[str, sp.csr_array]
    features: dict[int, torch.Tensor] = field(default_factory=dict)
    labels: dict[int, torch.Tensor] = field(default_factory=dict)
    masks: dict[str, dict[int, torch.Tensor]] = field(default_factory=dict)
    positions: torch.Tensor | None = None

    def neighborhood(
        self, name: str, layout: Literal["coo", "csr"] = "coo", dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        """The local matrix of a neighborhood as a torch sparse tensor (int64 indices).

        Returns
        -------
        torch.sparse, shape = (n_owned[target], n_owned[source] + n_halo[source])
        """
        if name not in self.matrices:
            raise KeyError(f"neighborhood {name!r} was not partitioned; this shard has {sorted(self.matrices)}.")
        return to_torch_sparse(self.matrices[name], layout, dtype)

    def global_columns(self, name: str) -> np.ndarray:
        """Global source id of each local column of a neighborhood, shape = (n_columns,)."""
        source = neighborhood_ranks(name)[1]
        return np.concatenate([self.owned_cells[source], self.halo_plans[source].halo_cells])


def build_shards(
    complex_: Complex, parts: list[np.ndarray], neighborhoods: list[str], world_size: int
) -> list[Shard]:
    """Split a complex into one :class:`Shard` per part.

    Parameters
    ----------
    complex_ : Complex
    parts : list of np.ndarray
        ``parts[r]``, shape = (n_cells[r],): the part owning each cell of rank ``r``.
    neighborhoods : list of str
        Neighborhoods to split (see :mod:`topodist.data.neighborhoods`).
    world_size : int
        Number of parts; a part may own nothing.

    Returns
    -------
    list of Shard
        One per part, in part order.
    """
    parts = _check_parts(complex_, parts, world_size)
    ownership = [_Ownership(p, world_size) for p in parts]
    sources = sorted({neighborhood_ranks(name)[1] for name in neighborhoods})
    halos = {s: _halo(complex_, neighborhoods, parts, ownership, s, world_size) for s in sources}
    local = {name: _local_matrices(complex_, name, parts, ownership, halos, world_size) for name in neighborhoods}
    shards = []
    for p in range(world_size):
        owned = {r: ownership[r].owned(p) for r in range(len(parts))}
        shards.append(
            Shard(
                part=p,
                world_size=world_size,
                kind=complex_.kind,
                n_cells=complex_.n_cells,
                owned_cells=owned,
                halo_plans={s: halos[s][p] for s in sources},
                matrices={name: local[name][p] for name in neighborhoods},
                features={r: x[torch.from_numpy(owned[r])] for r, x in complex_.features.items()},
                labels={r: y[torch.from_numpy(owned[r])] for r, y in complex_.labels.items()},
                masks={
                    split: {r: m[torch.from_numpy(owned[r])] for r, m in by_rank.items()}
                    for split, by_rank in complex_.masks.items()
                },
                positions=None if complex_.positions is None else complex_.positions[torch.from_numpy(owned[0])],
            )
        )
    return shards


class _Ownership:
    """Owned cells of each part for one rank, and every cell's local id in its part."""

    def __init__(self, parts: np.ndarray, world_size: int) -> None:
        self.order = np.argsort(parts, kind="stable")
        self.counts = np.bincount(parts, minlength=world_size)
        self.starts = np.concatenate([[0], np.cumsum(self.counts)])
        self.local_id = np.empty(len(parts), dtype=np.int64)
        self.local_id[self.order] = np.arange(len(parts)) - self.starts[parts[self.order]]

    def owned(self, part: int) -> np.ndarray:
        return self.order[self.starts[part] : self.starts[part + 1]].astype(np.int64)


def _check_parts(complex_: Complex, parts: list[np.ndarray], world_size: int) -> list[np.ndarray]:
    if len(parts) != len(complex_.n_cells):
        raise ValueError(f"parts has {len(parts)} arrays; the complex has {len(complex_.n_cells)} ranks.")
    checked = []
    for rank, (assignment, n) in enumerate(zip(parts, complex_.n_cells, strict=True)):
        assignment = np.asarray(assignment)
        if assignment.shape != (n,) or not np.issubdtype(assignment.dtype, np.integer):
            raise ValueError(f"parts[{rank}] must be {n} integers, got shape {assignment.shape} {assignment.dtype}.")
        if n and not 0 <= assignment.min() <= assignment.max() < world_size:
            raise ValueError(f"parts[{rank}] has parts outside [0, {world_size}).")
        checked.append(assignment.astype(np.int64))
    return checked


def _entries(complex_: Complex, name: str) -> sp.coo_array:
    return complex_.matrix(name).tocoo()


def _halo(complex_, neighborhoods, parts, ownership, source, world_size) -> list[HaloPlan]:
    """Halo plans of every part for the features of rank ``source``."""
    n_source = complex_.n_cells[source]
    keys = []
    for name in neighborhoods:
        target, rank = neighborhood_ranks(name)
        if rank != source:
            continue
        coo = _entries(complex_, name)
        needing, owner = parts[target][coo.row], parts[source][coo.col]
        remote = needing != owner
        keys.append(np.unique(needing[remote] * n_source + coo.col[remote].astype(np.int64)))
    keys = np.unique(np.concatenate(keys)) if keys else np.zeros(0, np.int64)
    needing, cells = keys // max(n_source, 1), keys % max(n_source, 1)
    owner = parts[source][cells]
    by_receiver = np.lexsort((cells, owner, needing))  # each part's halo: by owner, then id
    by_sender = np.lexsort((cells, needing, owner))  # each part's sends: by receiver, then id
    receive_starts = np.searchsorted(needing[by_receiver], np.arange(world_size + 1))
    send_starts = np.searchsorted(owner[by_sender], np.arange(world_size + 1))
    pair_counts = np.bincount(needing * world_size + owner, minlength=world_size**2).reshape(world_size, -1)
    # pair_counts[receiver, sender]
    local_id = ownership[source].local_id
    plans = []
    for p in range(world_size):
        received = by_receiver[receive_starts[p] : receive_starts[p + 1]]
        sent = by_sender[send_starts[p] : send_starts[p + 1]]
        plans.append(
            HaloPlan(
                rank=source,
                n_owned=int(ownership[source].counts[p]),
                halo_cells=cells[received],
                recv_counts=pair_counts[p].copy(),
                send_index=local_id[cells[sent]],
                send_counts=pair_counts[:, p].copy(),
            )
        )
    return plans


def _local_matrices(complex_, name, parts, ownership, halos, world_size) -> list[sp.csr_array]:
    """The rows of ``name`` owned by each part, in local row and column ids."""
    target, source = neighborhood_ranks(name)
    coo = _entries(complex_, name)
    row_part = parts[target][coo.row]
    local_row = ownership[target].local_id[coo.row]
    local_col = ownership[source].local_id[coo.col].copy()
    remote = parts[source][coo.col] != row_part
    if remote.any():
        n_source = max(complex_.n_cells[source], 1)
        # position of (part, cell) in that part's halo, offset by its owned count
        halo_keys, halo_columns = [], []
        for p in range(world_size):
            plan = halos[source][p]
            halo_keys.append(p * n_source + plan.halo_cells)
            halo_columns.append(plan.n_owned + np.arange(plan.n_halo, dtype=np.int64))
        halo_keys, halo_columns = np.concatenate(halo_keys), np.concatenate(halo_columns)
        order = np.argsort(halo_keys)
        wanted = row_part[remote] * n_source + coo.col[remote]
        local_col[remote] = halo_columns[order[np.searchsorted(halo_keys, wanted, sorter=order)]]
    by_part = np.argsort(row_part, kind="stable")
    starts = np.searchsorted(row_part[by_part], np.arange(world_size + 1))
    matrices = []
    for p in range(world_size):
        entries = by_part[starts[p] : starts[p + 1]]
        shape = (int(ownership[target].counts[p]), halos[source][p].n_owned + halos[source][p].n_halo)
        matrix = sp.csr_array((coo.data[entries], (local_row[entries], local_col[entries])), shape=shape)
        matrix.sort_indices()
        matrices.append(matrix)
    return matrices
