"""Datasets, deterministic by seed, built locally (nothing is downloaded)."""

from topodist.data.datasets.complex_level import mesh_genus_dataset
from topodist.data.datasets.karate import karate_club
from topodist.data.datasets.synthetic import (
    cell_torus,
    combinatorial_torus,
    grid_mesh,
    icosphere_mesh,
    random_geometric_complex,
    random_hypergraph,
    torus_mesh,
)

__all__ = [
    "cell_torus",
    "combinatorial_torus",
    "grid_mesh",
    "icosphere_mesh",
    "karate_club",
    "mesh_genus_dataset",
    "random_geometric_complex",
    "random_hypergraph",
    "torus_mesh",
]
