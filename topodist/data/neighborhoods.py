r"""Neighborhood matrices of a complex, derived from its incidence matrices.

Names follow TopoNetX and TopoModelX. With :math:`B_k` the incidence matrix
between the cells of rank :math:`k-1` (rows) and rank :math:`k` (columns), signed
for oriented complexes (simplicial, cell) and 0/1 otherwise, and :math:`|B|` its
entry-wise absolute value:

=================================== ===================================================================
name                                matrix
=================================== ===================================================================
``incidence_k``                     :math:`B_k`, shape ``(n_{k-1}, n_k)``
``incidence_k_unsigned``            :math:`|B_k|`
``incidence_r_s``                   0/1 matrix ``(n_r, n_s)``: cell ``i`` of rank ``r`` is a face of cell ``j`` of rank ``s`` (``r < s``)
``up_laplacian_k``                  :math:`L^{\uparrow}_k = B_{k+1} B_{k+1}^T`
``down_laplacian_k``                :math:`L^{\downarrow}_k = B_k^T B_k`
``hodge_laplacian_k``               :math:`L_k = L^{\downarrow}_k + L^{\uparrow}_k` (one term at rank 0 and at the top rank)
``adjacency_k``                     off-diagonal part of :math:`|B_{k+1}| |B_{k+1}|^T`: number of shared cofaces
``coadjacency_k``                   off-diagonal part of :math:`|B_k|^T |B_k|`: number of shared faces
``adjacency_r_s``                   off-diagonal part of :math:`I_{rs} I_{rs}^T` (``r < s``), :math:`I` = ``incidence_r_s``
``coadjacency_r_s``                 off-diagonal part of :math:`I_{sr}^T I_{sr}` (``s < r``)
``sym_normalized_hodge_laplacian_k`` :math:`D^{-1/2} L_k D^{-1/2}`, :math:`D = \mathrm{diag}(|L_k| \mathbf{1})` (TopoNetX ``normalized_laplacian_matrix``)
``scaled_hodge_laplacian_k``        :math:`L_k / \lambda_{\max}(L_k)` (TopoNetX ``compute_laplacian_normalized_matrix``)
``scaled_up_laplacian_k``           :math:`L^{\uparrow}_k / \lambda_{\max}(L_k)` (TopoNetX ``compute_x_laplacian_normalized_matrix``)
``scaled_down_laplacian_k``         :math:`L^{\downarrow}_k / \lambda_{\max}(L_k)`
``kipf_adjacency_k``                :math:`D^{-1/2} (A_k + I) D^{-1/2}`, :math:`D = \mathrm{diag}((A_k + I)\mathbf{1})` (TopoNetX ``compute_kipf_adjacency_normalized_matrix`` with ``add_identity=True``)
``kipf_coadjacency_k``              the same with the coadjacency
``inverse_shifted_down_laplacian_k`` :math:`(L^{\downarrow}_k + I)^{-1}` on the stored entries of ``adjacency_k`` and the diagonal only (what Dist2Cycle reads through :math:`A \odot \tilde L^{+}`; the full inverse is dense)
=================================== ===================================================================

Any name followed by ``.T`` is the transpose, for example ``incidence_1.T``
(shape ``(n_1, n_0)``: nodes to edges), the direction models use to send
messages from lower to higher ranks. A neighborhood of shape
``(n_target, n_source)`` maps features of its source rank to its target rank;
:func:`neighborhood_ranks` tells which ranks those are.

Adjacencies never store their (zero) diagonal, unlike TopoNetX's, which keeps
explicit zeros there; an empty row means a cell without neighbors. Rows of zero
degree in the normalizations stay zero.
"""

import re

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

__all__ = [
    "NEIGHBORHOOD_PATTERNS",
    "gram",
    "inverse_on_pattern",
    "kipf_normalize",
    "largest_eigenvalue",
    "neighborhood_ranks",
    "off_diagonal",
    "parse_neighborhood_name",
    "scale_by",
    "sym_normalize",
]

# name -> regular expression; groups are ranks.
NEIGHBORHOOD_PATTERNS: dict[str, str] = {
    "incidence": r"incidence_(\d+)",
    "incidence_unsigned": r"incidence_(\d+)_unsigned",
    "incidence_between": r"incidence_(\d+)_(\d+)",
    "up_laplacian": r"up_laplacian_(\d+)",
    "down_laplacian": r"down_laplacian_(\d+)",
    "hodge_laplacian": r"hodge_laplacian_(\d+)",
    "adjacency": r"adjacency_(\d+)",
    "coadjacency": r"coadjacency_(\d+)",
    "adjacency_via": r"adjacency_(\d+)_(\d+)",
    "coadjacency_via": r"coadjacency_(\d+)_(\d+)",
    "sym_normalized_hodge_laplacian": r"sym_normalized_hodge_laplacian_(\d+)",
    "scaled_hodge_laplacian": r"scaled_hodge_laplacian_(\d+)",
    "scaled_up_laplacian": r"scaled_up_laplacian_(\d+)",
    "scaled_down_laplacian": r"scaled_down_laplacian_(\d+)",
    "kipf_adjacency": r"kipf_adjacency_(\d+)",
    "kipf_coadjacency": r"kipf_coadjacency_(\d+)",
    "inverse_shifted_down_laplacian": r"inverse_shifted_down_laplacian_(\d+)",
}


def parse_neighborhood_name(name: str) -> tuple[str, tuple[int, ...]]:
    """Split a neighborhood name into its kind and ranks.

    Parameters
    ----------
    name : str
        For example ``"hodge_laplacian_1"`` or ``"incidence_0_2"``.

    Returns
    -------
    kind : str
        A key of :data:`NEIGHBORHOOD_PATTERNS`.
    ranks : tuple of int
        The ranks in the name.
    """
    for kind, pattern in NEIGHBORHOOD_PATTERNS.items():
        match = re.fullmatch(pattern, name)
        if match:
            return kind, tuple(int(group) for group in match.groups())
    raise ValueError(
        f"unknown neighborhood {name!r}; names are "
        + ", ".join(p.replace(r"(\d+)", "k") for p in NEIGHBORHOOD_PATTERNS.values())
        + " (k a rank)."
    )


def neighborhood_ranks(name: str) -> tuple[int, int]:
    """The ranks a neighborhood maps between.

    Parameters
    ----------
    name : str
        A neighborhood name, optionally with the ``.T`` suffix.

    Returns
    -------
    target_rank, source_rank : int
        Row cells and column cells: the neighborhood has shape
        ``(n_cells[target_rank], n_cells[source_rank])``.
    """
    base = name.removesuffix(".T")
    kind, ranks = parse_neighborhood_name(base)
    if kind in ("incidence", "incidence_unsigned"):
        target, source = ranks[0] - 1, ranks[0]
    elif kind == "incidence_between":
        target, source = ranks
    else:
        target = source = ranks[0]
    return (source, target) if name.endswith(".T") else (target, source)


def inverse_on_pattern(matrix: sp.csr_array, pattern: sp.csr_array, block: int = 256) -> sp.csr_array:
    """The entries of ``matrix^{-1}`` where ``pattern`` stores an entry, without forming the inverse.

    ``matrix`` must be symmetric and invertible. One sparse LU factorization, then
    ``n`` solves in blocks of ``block`` right-hand sides: memory ``O(n * block)``.

    Parameters
    ----------
    matrix : scipy.sparse.csr_array, shape = (n, n)
    pattern : scipy.sparse.csr_array, shape = (n, n)
    block : int, default=256

    Returns
    -------
    scipy.sparse.csr_array, shape = (n, n)
        Same stored entries as ``pattern`` (explicit zeros dropped).
    """
    n = matrix.shape[0]
    pattern = sp.csr_array(pattern)
    pattern.sort_indices()
    values = np.zeros(pattern.nnz)
    if n:
        solve = spla.splu(sp.csc_array(matrix)).solve
        for start in range(0, n, block):
            stop = min(start + block, n)
            identity = np.zeros((n, stop - start))
            identity[np.arange(start, stop), np.arange(stop - start)] = 1.0
            columns = solve(identity)  # columns start..stop of the inverse = its rows, by symmetry
            for row in range(start, stop):
                lo, hi = pattern.indptr[row], pattern.indptr[row + 1]
                values[lo:hi] = columns[pattern.indices[lo:hi], row - start]
    result = sp.csr_array((values, pattern.indices, pattern.indptr), shape=pattern.shape)
    result.eliminate_zeros()
    return result


def off_diagonal(matrix: sp.csr_array) -> sp.csr_array:
    """Remove the diagonal of a square matrix and every stored zero.

    Parameters
    ----------
    matrix : scipy.sparse.csr_array, shape = (n, n)

    Returns
    -------
    scipy.sparse.csr_array, shape = (n, n)
    """
    coo = matrix.tocoo()
    keep = (coo.row != coo.col) & (coo.data != 0)
    return sp.csr_array(
        (coo.data[keep], (coo.row[keep], coo.col[keep])), shape=matrix.shape
    )


def _clean(matrix: sp.sparray) -> sp.csr_array:
    matrix = sp.csr_array(matrix)
    matrix.eliminate_zeros()
    matrix.sort_indices()
    return matrix


def gram(incidence: sp.csr_array, transpose: bool) -> sp.csr_array:
    """``B B^T`` (``transpose=False``) or ``B^T B`` (``transpose=True``), stored zeros dropped."""
    if transpose:
        return _clean(incidence.T @ incidence)
    return _clean(incidence @ incidence.T)


def sym_normalize(laplacian: sp.csr_array) -> sp.csr_array:
    r""":math:`D^{-1/2} L D^{-1/2}` with :math:`D` the row sums of :math:`|L|` (0 rows stay 0)."""
    degree = np.asarray(abs(laplacian).sum(axis=1)).ravel()
    inverse_sqrt = np.divide(1.0, np.sqrt(degree), out=np.zeros_like(degree), where=degree > 0)
    scaling = sp.diags_array(inverse_sqrt)
    return _clean(scaling @ laplacian @ scaling)


def kipf_normalize(adjacency: sp.csr_array) -> sp.csr_array:
    r""":math:`D^{-1/2} (|A| + I) D^{-1/2}` with :math:`D` the row sums of :math:`|A| + I`."""
    with_loops = abs(adjacency) + sp.eye_array(adjacency.shape[0], format="csr")
    degree = np.asarray(with_loops.sum(axis=1)).ravel()
    scaling = sp.diags_array(1.0 / np.sqrt(degree))
    return _clean(scaling @ with_loops @ scaling)


def largest_eigenvalue(laplacian: sp.csr_array) -> float:
    """Largest-magnitude eigenvalue of a symmetric matrix (ARPACK; dense below 3 rows)."""
    if laplacian.shape[0] == 0 or laplacian.nnz == 0:
        return 0.0
    if laplacian.shape[0] < 3:
        return float(np.abs(np.linalg.eigvalsh(laplacian.toarray())).max())
    values = spla.eigsh(
        laplacian.astype(np.float64),
        k=1,
        which="LM",
        return_eigenvectors=False,
        v0=np.random.default_rng(0).uniform(0.5, 1.5, laplacian.shape[0]),  # deterministic
    )
    return float(abs(values[0]))


def scale_by(matrix: sp.csr_array, eigenvalue: float) -> sp.csr_array:
    """``matrix / eigenvalue``; the zero matrix when ``eigenvalue`` is 0."""
    return _clean(matrix * (1.0 / eigenvalue if eigenvalue else 0.0))


