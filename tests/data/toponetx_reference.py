"""TopoNetX's own matrices for a neighborhood name, the reference for equality tests."""

import numpy as np
import scipy.sparse as sp
from toponetx.utils import normalization


def toponetx_matrix(domain, kind: str, name: str) -> sp.csr_array:
    """TopoNetX's matrix for ``name``, with TopoNetX's stored zeros dropped."""
    parts = name.split("_")
    k = int(parts[-2] if parts[-1] == "unsigned" else parts[-1])
    if kind in ("simplicial", "cell"):
        matrix = {
            "incidence": lambda: domain.incidence_matrix(k),
            "unsigned": lambda: domain.incidence_matrix(k, signed=False),
            "up": lambda: domain.up_laplacian_matrix(k),
            "down": lambda: domain.down_laplacian_matrix(k),
            "hodge": lambda: domain.hodge_laplacian_matrix(k),
            "adjacency": lambda: domain.adjacency_matrix(k),
            "coadjacency": lambda: domain.coadjacency_matrix(k),
            "sym": lambda: domain.normalized_laplacian_matrix(k),
            "scaled": lambda: normalization.compute_x_laplacian_normalized_matrix(
                domain.hodge_laplacian_matrix(k), domain.up_laplacian_matrix(k)
            ),
            "kipf": lambda: normalization.compute_kipf_adjacency_normalized_matrix(
                domain.adjacency_matrix(k), add_identity=True
            ),
        }["unsigned" if parts[-1] == "unsigned" else parts[0]]()
    else:
        r, s = int(parts[-2]), k
        matrix = {
            "incidence": lambda: domain.incidence_matrix(r, s),
            "adjacency": lambda: domain.adjacency_matrix(r, s),
            "coadjacency": lambda: domain.coadjacency_matrix(r, s),
        }[parts[0]]()
    matrix = sp.csr_array(matrix, dtype=np.float64)
    matrix.eliminate_zeros()
    return matrix


def assert_same_matrix(ours: sp.csr_array, theirs: sp.csr_array, rtol: float = 0.0) -> None:
    """Equal shape, equal sparsity pattern, equal values (to ``rtol`` of the largest)."""
    assert ours.shape == theirs.shape
    ours, theirs = sp.csr_array(ours), sp.csr_array(theirs)
    pattern = lambda m: {(int(i), int(j)) for i, j in zip(*m.nonzero())}  # noqa: E731
    assert pattern(ours) == pattern(theirs)
    difference = abs(ours - theirs).max() if ours.nnz else 0.0
    scale = abs(theirs).max() if theirs.nnz else 1.0
    assert difference <= rtol * scale
