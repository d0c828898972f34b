"""Training with Lightning: one partitioned complex, or many small complexes in data parallel."""

from topodist.training.complex_data import ComplexDatasetData
from topodist.training.complex_module import ComplexClassification
from topodist.training.data import PartitionedComplexData, PartitionSettings
from topodist.training.module import CellClassification, CellRegression
from topodist.training.predictions import PredictionWriter

__all__ = [
    "CellClassification",
    "CellRegression",
    "ComplexClassification",
    "ComplexDatasetData",
    "PartitionSettings",
    "PartitionedComplexData",
    "PredictionWriter",
]
