r"""The cell graph METIS partitions: every cell of every rank is a vertex.

For each neighborhood :math:`N` of shape ``(n_target, n_source)`` a model uses,
each stored entry :math:`N_{ij}` joins target cell :math:`i` to source cell
:math:`j`: if they land on different parts, :math:`j`'s features cross the
network. The edge weight between two cells counts those entries over all
neighborhoods and both directions, so that the edge cut METIS minimises is the
number of neighborhood entries that reference a remote cell.

Balance constraints: one per non-empty rank, weight 1 on that rank's cells, so
that every part gets its share of nodes, of edges, of faces (each rank's layer
runs on every part, and features memory follows cell counts); and one last
constraint, the work of each cell: one unit for its own update plus the stored
entries of its rows (the messages it aggregates) in every neighborhood, so that
nonzeros are balanced too. (Weighting each rank's constraint by work alone made
METIS 5 miss its tolerance by 10% on meshes; counts plus total work meet it.)
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from topodist.data.complex import Complex
from topodist.data.neighborhoods import neighborhood_ranks

__all__ = ["CellGraph", "cell_graph"]


@dataclass(frozen=True)
class CellGraph:
    """A symmetric weighted graph on the cells of all ranks.

    Attributes
    ----------
    offsets : np.ndarray, shape = (n_ranks + 1,)
        Cell ``c`` of rank ``r`` is vertex ``offsets[r] + c``.
    adjacency : scipy.sparse.csr_array, shape = (n_vertices, n_vertices)
        Symmetric, integer edge weights, no diagonal.
    vertex_weights : np.ndarray, shape = (n_vertices, len(constraint_ranks) + 1)
        Column ``j < len(constraint_ranks)`` is 1 on the cells of rank
        ``constraint_ranks[j]`` and 0 elsewhere; the last column is each cell's work.
    constraint_ranks : list of int
        The non-empty ranks, one count constraint each.
    """

    offsets: np.ndarray
    adjacency: sp.csr_array
    vertex_weights: np.ndarray
    constraint_ranks: list[int]


def cell_graph(complex_: Complex, neighborhoods: list[str]) -> CellGraph:
    """Build the cell graph of the neighborhoods a model uses.

    Parameters
    ----------
    complex_ : Complex
    neighborhoods : list of str
        Neighborhood names (see :mod:`topodist.data.neighborhoods`).

    Returns
    -------
    CellGraph
    """
    offsets = np.concatenate([[0], np.cumsum(complex_.n_cells)]).astype(np.int64)
    n_vertices = int(offsets[-1])
    rows, cols = [], []
    work = np.ones(n_vertices, dtype=np.int64)
    for name in neighborhoods:
        target, source = neighborhood_ranks(name)
        matrix = complex_.matrix(name)
        work[offsets[target] : offsets[target + 1]] += np.diff(matrix.indptr)
        coo = matrix.tocoo()
        rows.append(coo.row.astype(np.int64) + offsets[target])
        cols.append(coo.col.astype(np.int64) + offsets[source])
    row = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    col = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    off_diagonal = row != col
    row, col = row[off_diagonal], col[off_diagonal]
    ones = np.ones(2 * len(row), dtype=np.int64)
    adjacency = sp.csr_array(
        (ones, (np.concatenate([row, col]), np.concatenate([col, row]))), shape=(n_vertices, n_vertices)
    )
    adjacency.sum_duplicates()
    adjacency.sort_indices()
    constraint_ranks = [rank for rank, n in enumerate(complex_.n_cells) if n > 0]
    vertex_weights = np.zeros((n_vertices, len(constraint_ranks) + 1), dtype=np.int64)
    for column, rank in enumerate(constraint_ranks):
        vertex_weights[offsets[rank] : offsets[rank + 1], column] = 1
    vertex_weights[:, -1] = work
    return CellGraph(offsets, adjacency, vertex_weights, constraint_ranks)
