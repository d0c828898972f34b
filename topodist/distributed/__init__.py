"""Distributed message passing: partitioned neighborhoods, halo exchange, readouts."""

from topodist.distributed.halo_exchange import HaloExchanger, exchange_halo
from topodist.distributed.neighborhood import PartitionedNeighborhood
from topodist.distributed.partitioned_complex import PartitionedComplex
from topodist.distributed.readout import gather_cells, global_pool

__all__ = [
    "HaloExchanger", "PartitionedComplex", "PartitionedNeighborhood", "exchange_halo", "gather_cells", "global_pool",
]
