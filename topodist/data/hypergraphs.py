"""Hypergraphs from hyperedge lists or CSR arrays, without a loop over hyperedges in the fast path."""

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from topodist.data.complex import Complex

__all__ = ["hypergraph"]


def hypergraph(
    hyperedges: Sequence[Sequence[int]] | tuple[np.ndarray, np.ndarray],
    n_nodes: int | None = None,
    name: str = "",
) -> Complex:
    """Build a hypergraph from its hyperedges.

    Parameters
    ----------
    hyperedges : sequence of sequences of int, or (indptr, indices)
        Node ids of every hyperedge, as lists or in CSR form: hyperedge ``j`` is
        ``indices[indptr[j]:indptr[j + 1]]``.
    n_nodes : int, optional
        Number of nodes; defaults to the largest id + 1.
    name : str, default=""

    Returns
    -------
    Complex
        ``kind="hypergraph"``: rank 0 nodes, rank 1 hyperedges, ``incidence_1`` of shape
        ``(n_nodes, n_hyperedges)``.
    """
    if isinstance(hyperedges, tuple) and len(hyperedges) == 2 and isinstance(hyperedges[0], np.ndarray):
        indptr, indices = (np.asarray(a, dtype=np.int64) for a in hyperedges)
    else:
        indptr, indices = _ragged_to_csr(hyperedges)
    sizes = np.diff(indptr)
    if len(sizes) and (sizes == 0).any():
        raise ValueError(f"hyperedge {int(np.flatnonzero(sizes == 0)[0])} is empty.")
    if len(indices) and indices.min() < 0:
        raise ValueError(f"hyperedges contain a negative node id {int(indices.min())}.")
    n_nodes = int(indices.max()) + 1 if n_nodes is None and len(indices) else n_nodes
    if not n_nodes:
        raise ValueError("the hypergraph is empty: no nodes.")
    columns = np.repeat(np.arange(len(sizes)), sizes)
    membership = sp.csr_array((np.ones(len(indices)), (indices, columns)), shape=(n_nodes, len(sizes)))
    if membership.sum() != len(indices) or (membership.data > 1).any():
        counts = sp.csc_array(membership)
        edge = int(np.flatnonzero(np.asarray(counts.max(axis=0).todense()).ravel() > 1)[0])
        raise ValueError(f"hyperedge {edge} lists a node twice: {indices[indptr[edge]:indptr[edge + 1]].tolist()}.")
    return Complex("hypergraph", [n_nodes, len(sizes)], {(0, 1): membership}, name=name)


# ------------------------------------------------------------------- helpers
def _ragged_to_csr(hyperedges) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, indices) of a list of node-id lists, refusing anything else by position."""
    lengths = []
    for position, edge in enumerate(hyperedges):
        if isinstance(edge, str | bytes) or not hasattr(edge, "__len__"):
            raise ValueError(f"hyperedge {position} must be a sequence of node ids, got {edge!r}.")
        lengths.append(len(edge))
    indptr = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
    try:
        flat = np.asarray([node for edge in hyperedges for node in edge] or np.zeros(0, dtype=np.int64))
    except ValueError:  # an element is itself a sequence
        flat = np.zeros(0, dtype=object)
    if flat.ndim != 1 or not np.issubdtype(flat.dtype, np.integer):
        for position, edge in enumerate(hyperedges):
            if not all(isinstance(node, int | np.integer) for node in edge):
                raise ValueError(
                    f"hyperedge {position} = {list(edge)!r} holds something other than integer node ids."
                )
    return indptr, flat.astype(np.int64)
