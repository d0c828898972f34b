"""Training with Lightning: partitioned data module and cell-classification module."""

from topodist.training.data import PartitionedComplexData, PartitionSettings
from topodist.training.module import CellClassification

__all__ = ["CellClassification", "PartitionSettings", "PartitionedComplexData"]
