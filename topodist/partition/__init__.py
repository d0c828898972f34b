"""Partition the cells of a complex across workers and plan their halo exchanges."""

from topodist.partition.methods import (
    PARTITION_METHODS,
    assign_cells,
    copartition_from_nodes,
    default_partition_neighborhoods,
)
from topodist.partition.plan import HaloPlan, Shard, build_shards

__all__ = [
    "PARTITION_METHODS",
    "HaloPlan",
    "Shard",
    "assign_cells",
    "build_shards",
    "copartition_from_nodes",
    "default_partition_neighborhoods",
]
