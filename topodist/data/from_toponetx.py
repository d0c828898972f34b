"""Convert TopoNetX complexes to :class:`topodist.data.Complex`.

Cell order is TopoNetX's: nodes and cells of every rank in the order of its
``skeleton(rank)`` (``incidence_matrix``'s rows and columns). Orientation is
TopoNetX's too. Cell attributes named by ``feature_key`` become features.
"""

from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from topodist.data.builders import simplicial_complex
from topodist.data.complex import Complex

__all__ = ["from_toponetx"]


def from_toponetx(
    domain: Any, feature_keys: Mapping[int, str] | str | None = None, name: str = ""
) -> Complex:
    """Convert a TopoNetX SimplicialComplex, CellComplex, CombinatorialComplex or ColoredHyperGraph.

    Parameters
    ----------
    domain : toponetx complex
        The complex to convert.
    feature_keys : str or mapping from int to str, optional
        Name of the cell attribute holding each cell's feature vector, for all
        ranks or per rank; a rank gets ``features[rank]`` when all its cells carry it.
    name : str, default=""

    Returns
    -------
    Complex
        ``kind`` is ``"simplicial"``, ``"cell"``, ``"combinatorial"`` or ``"hypergraph"``.
    """
    import toponetx as tnx

    if isinstance(domain, tnx.SimplicialComplex):
        result = _from_simplicial(domain, name)
    elif isinstance(domain, tnx.CellComplex):
        n_cells = [len(domain.nodes), len(domain.edges), len(domain.cells)]
        incidences = {(0, 1): domain.incidence_matrix(1), (1, 2): domain.incidence_matrix(2)}
        result = Complex("cell", n_cells, _drop_empty(incidences, n_cells), name=name)
    elif isinstance(domain, tnx.CombinatorialComplex | tnx.ColoredHyperGraph):
        kind = "combinatorial" if isinstance(domain, tnx.CombinatorialComplex) else "hypergraph"
        top = int(domain.dim)
        n_cells = [len(domain.skeleton(rank)) for rank in range(top + 1)]
        incidences = {
            (0, rank): domain.incidence_matrix(0, rank) for rank in range(1, top + 1) if n_cells[rank]
        }
        result = Complex(kind, n_cells, incidences, name=name)
    else:
        raise TypeError(
            "domain must be a TopoNetX SimplicialComplex, CellComplex, CombinatorialComplex "
            f"or ColoredHyperGraph, got {type(domain).__name__}."
        )
    if feature_keys is not None:
        if isinstance(feature_keys, str):
            feature_keys = dict.fromkeys(range(result.max_rank + 1), feature_keys)
        for rank, key in feature_keys.items():
            values = _features(domain, key, rank)
            if values is not None:
                result.features[rank] = values
        result._validate()
    return result


def _from_simplicial(domain: Any, name: str) -> Complex:
    nodes = [simplex_nodes[0] for simplex_nodes in map(tuple, domain.skeleton(0))]
    node_id = {node: i for i, node in enumerate(nodes)}
    simplices = [
        np.array([[node_id[v] for v in sorted(simplex)] for simplex in domain.skeleton(rank)], dtype=np.int64)
        .reshape(-1, rank + 1)
        for rank in range(1, int(domain.dim) + 1)
    ]
    return simplicial_complex(simplices, n_nodes=len(nodes), name=name)


def _features(domain: Any, key: str, rank: int) -> torch.Tensor | None:
    if hasattr(domain, "get_simplex_attributes"):
        values = domain.get_simplex_attributes(key, rank)
    else:
        values = domain.get_cell_attributes(key, rank)
    cells = list(domain.skeleton(rank))
    ordered = [_lookup(values, cell) for cell in cells] if values else []
    if not ordered or any(value is None for value in ordered):
        return None
    return torch.as_tensor(np.asarray(ordered, dtype=np.float32)).reshape(len(cells), -1)


def _lookup(values: Mapping, cell: Any) -> Any:
    """TopoNetX keys attributes by node, or by node tuple (boundary order for cells, sorted for simplices)."""
    if not isinstance(cell, tuple | list) and cell in values:
        return values[cell]
    elements = getattr(cell, "elements", cell)
    elements = tuple(elements) if isinstance(elements, tuple | list | frozenset) else (elements,)
    if elements in values:
        return values[elements]
    return values.get(tuple(sorted(elements)))


def _drop_empty(incidences: dict, n_cells: list[int]) -> dict:
    return {
        key: sp.csr_array(matrix)
        for key, matrix in incidences.items()
        if n_cells[key[0]] and n_cells[key[1]]
    }
