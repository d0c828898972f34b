"""Complexes, their neighborhoods, builders, sources and datasets."""

from topodist.data.builders import clique_complex, simplicial_complex, tetrahedral_mesh, triangle_mesh
from topodist.data.complex import Complex
from topodist.data.hypergraphs import hypergraph
from topodist.data.sparse import to_torch_sparse

__all__ = [
    "Complex",
    "clique_complex",
    "hypergraph",
    "simplicial_complex",
    "tetrahedral_mesh",
    "to_torch_sparse",
    "triangle_mesh",
]
