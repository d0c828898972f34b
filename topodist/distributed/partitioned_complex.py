"""This part's share of a partitioned complex, bound to a process group.

Construction is collective: every rank of the group builds its
:class:`PartitionedComplex` from its own shard, and the ranks check together,
before any exchange, that their shards come from one partition (same world
size, cell counts and neighborhoods) and that every send list matches the
receive list at the other end. If anything disagrees, every rank raises the
same error; none is left waiting in an exchange.
"""

import weakref
from collections.abc import Sequence

import numpy as np
import torch
import torch.distributed as dist

from topodist.data.neighborhoods import neighborhood_ranks
from topodist.distributed.chain import NeighborhoodChain
from topodist.distributed.halo_exchange import HaloExchanger
from topodist.distributed.neighborhood import PartitionedNeighborhood, _transposed_name
from topodist.distributed.shutdown import release_process_group_at_exit
from topodist.partition.plan import Shard

__all__ = ["PartitionedComplex"]


class PartitionedComplex:
    """Partitioned neighborhoods and owned data of one part.

    Parameters
    ----------
    shard : Shard
        This part's shard (:func:`topodist.partition.build_shards` or
        :func:`topodist.partition.shards.load_shard`).
    group : torch.distributed.ProcessGroup, optional
        Its ranks are the parts, rank ``p`` holding part ``p``; the default group
        when omitted. Must be initialised.
    device : torch.device, optional
        Where neighborhoods and data go (CPU when omitted).
    dtype : torch.dtype, default=torch.float32
        Value type of the neighborhoods.
    validate : bool, default=True
        Check feature shapes across ranks before every exchange (one small all-reduce).

    Attributes
    ----------
    features, labels : dict of int to torch.Tensor
        Rows of the owned cells, per rank.
    masks : dict of str to dict of int to torch.Tensor
    owned_cells : dict of int to np.ndarray
        Global ids of the owned cells, per rank.
    """

    def __init__(
        self,
        shard: Shard,
        group: dist.ProcessGroup | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
        validate: bool = True,
    ) -> None:
        release_process_group_at_exit()
        if not dist.is_available() or not dist.is_initialized():
            raise RuntimeError(
                "PartitionedComplex needs an initialised process group: call "
                "torch.distributed.init_process_group (Lightning and torchrun do) first."
            )
        self.shard = shard
        self.group = group
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.dtype = dtype
        _check_agreement(shard, group, self.device)
        self.exchangers = {
            rank: HaloExchanger(plan, group, self.device, validate) for rank, plan in shard.halo_plans.items()
        }
        self._neighborhoods: dict[str, PartitionedNeighborhood] = {}
        self.owned_cells = shard.owned_cells
        self.features = {rank: x.to(self.device) for rank, x in shard.features.items()}
        self.labels = {rank: y.to(self.device) for rank, y in shard.labels.items()}
        self.masks = {s: {r: m.to(self.device) for r, m in by_rank.items()} for s, by_rank in shard.masks.items()}

    @property
    def part(self) -> int:
        """This part's index (its rank in the group)."""
        return self.shard.part

    @property
    def world_size(self) -> int:
        """Number of parts."""
        return self.shard.world_size

    @property
    def n_owned(self) -> tuple[int, ...]:
        """Cells owned per rank."""
        return tuple(len(self.shard.owned_cells[r]) for r in range(len(self.shard.n_cells)))

    def neighborhood(self, name: str) -> PartitionedNeighborhood:
        """A partitioned neighborhood by name, as :meth:`topodist.data.Complex.neighborhood` gives it whole.

        Parameters
        ----------
        name : str
            One of the neighborhoods the shard was built with.

        Returns
        -------
        PartitionedNeighborhood
        """
        if name not in self._neighborhoods:
            if name not in self.shard.matrices:
                raise KeyError(
                    f"neighborhood {name!r} was not partitioned; this partition has {sorted(self.shard.matrices)}. "
                    "Add it to the neighborhoods given to the partitioner."
                )
            self._neighborhoods[name] = _NeighborhoodBuilder.of(self, name).build()
        return self._neighborhoods[name]

    def product(self, factors: Sequence[str], scale: float = 1.0) -> NeighborhoodChain:
        """``scale * factors[0] @ factors[1] @ ...``, kept factored: one one-hop exchange per factor.

        What a factored Laplacian is on a partition
        (:mod:`topodist.partition.product_forms`): ``product(("incidence_1.T",
        "incidence_1"))`` is the down Laplacian of the edges, never formed.

        Parameters
        ----------
        factors : sequence of str
            Partitioned neighborhoods, left to right.
        scale : float, default=1.0
            Multiplies the first factor.

        Returns
        -------
        NeighborhoodChain
        """
        chain = [self.neighborhood(name) for name in factors]
        if scale != 1.0:
            chain[0] = scale * chain[0]
            chain[0].name = factors[0]  # its halo traffic is that factor's
        return NeighborhoodChain(chain)

    def bytes_sent(self) -> int:
        """Feature bytes this rank has sent through all its plans so far."""
        return sum(exchanger.bytes_sent for exchanger in self.exchangers.values())


class _NeighborhoodBuilder:
    """Builds a complex's partitioned neighborhood ``name``; called, it is the transpose a neighborhood asks for.

    Called, it gives the complex's own while the complex is alive (the one
    :meth:`PartitionedComplex.neighborhood` gives); once it is gone, one built
    from the shard and kept. The complex is held weakly: a complex whose
    neighborhoods held it would sit in a reference cycle, its (GPU) memory
    freed only by the garbage collector.
    """

    def __init__(self, complex_: weakref.ref, name: str, shard: Shard, exchangers: dict, device, dtype) -> None:
        self.complex, self.name = complex_, name
        self.shard, self.exchangers, self.device, self.dtype = shard, exchangers, device, dtype
        self.built: PartitionedNeighborhood | None = None

    @classmethod
    def of(cls, complex_: PartitionedComplex, name: str) -> "_NeighborhoodBuilder":
        """The builder of ``complex_``'s neighborhood ``name``."""
        return cls(weakref.ref(complex_), name, complex_.shard, complex_.exchangers, complex_.device, complex_.dtype)

    def __call__(self) -> PartitionedNeighborhood:
        complex_ = self.complex()
        if complex_ is not None:
            return complex_.neighborhood(self.name)
        if self.built is None:
            self.built = self.build()
        return self.built

    def build(self) -> PartitionedNeighborhood:
        """The partitioned neighborhood ``name``, new, from the shard."""
        ranks = neighborhood_ranks(self.name)
        transposed = _transposed_name(self.name)
        transpose = None
        if transposed in self.shard.matrices:
            transpose = _NeighborhoodBuilder(
                self.complex, transposed, self.shard, self.exchangers, self.device, self.dtype
            )
        return PartitionedNeighborhood(
            self.shard.neighborhood(self.name, "coo", self.dtype).to(self.device),
            self.exchangers[ranks[1]],
            self.name,
            ranks,
            transpose=transpose,
            target_cells=torch.from_numpy(self.shard.owned_cells[ranks[0]]).to(self.device),
            source_cells=torch.from_numpy(
                np.concatenate([self.shard.owned_cells[ranks[1]], self.shard.halo_plans[ranks[1]].halo_cells])
            ).to(device=self.device, dtype=torch.int64),
        )


def _check_agreement(shard: Shard, group, device: torch.device) -> None:
    """Every rank raises unless the shards form one partition with matching send and receive lists."""
    world_size = dist.get_world_size(group)
    rank = dist.get_rank(group)
    local_problem = ""
    if shard.world_size != world_size:
        local_problem = f"its shard is part of a {shard.world_size}-part partition but the group has {world_size} ranks"
    elif shard.part != rank:
        local_problem = f"it holds shard {shard.part}; rank r must hold shard r"
    summary = {
        "problem": local_problem,
        "n_cells": list(shard.n_cells),
        "neighborhoods": sorted(shard.matrices),
        "plans": {r: (p.send_counts.tolist(), p.recv_counts.tolist()) for r, p in shard.halo_plans.items()},
    }
    everyone: list = [None] * world_size
    dist.all_gather_object(everyone, summary, group=group)
    problems = [f"rank {r}: {s['problem']}" for r, s in enumerate(everyone) if s["problem"]]
    if not problems:
        first = everyone[0]
        for r, other in enumerate(everyone):
            if (other["n_cells"], other["neighborhoods"], sorted(other["plans"])) != (
                first["n_cells"], first["neighborhoods"], sorted(first["plans"])
            ):
                problems.append(f"rank {r}: its shard comes from another complex or partition than rank 0's")
        if not problems:
            for source in first["plans"]:
                for p in range(world_size):
                    for q in range(world_size):
                        sent, received = everyone[p]["plans"][source][0][q], everyone[q]["plans"][source][1][p]
                        if sent != received:
                            problems.append(
                                f"rank {p} sends {sent} rows of rank-{source} features to rank {q}, "
                                f"which expects {received}"
                            )
    if problems:
        raise ValueError(
            "the shards of this process group do not form one partition: "
            + "; ".join(problems[:5])
            + ". Load every shard from one shard directory, rank r reading part r, with world size = P."
        )
