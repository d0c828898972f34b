"""Conversions between scipy sparse matrices and torch sparse tensors."""

from typing import Literal

import numpy as np
import scipy.sparse as sp
import torch

__all__ = ["as_csr", "binary", "to_torch_sparse"]


def to_torch_sparse(
    matrix: sp.sparray | sp.spmatrix,
    layout: Literal["coo", "csr"] = "coo",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Convert a scipy sparse matrix to a torch sparse tensor with int64 indices.

    Parameters
    ----------
    matrix : scipy.sparse matrix, shape = (n_rows, n_cols)
    layout : {"coo", "csr"}, default="coo"
    dtype : torch.dtype, default=torch.float32

    Returns
    -------
    torch.sparse, shape = (n_rows, n_cols)
        Its own memory: no array of ``matrix`` is shared, so a read-only one
        (a memory-mapped saved complex) gives a writable tensor.
    """
    csr = as_csr(matrix)
    values = torch.tensor(csr.data, dtype=dtype)
    crow = torch.from_numpy(csr.indptr.astype(np.int64))
    col = torch.from_numpy(csr.indices.astype(np.int64))
    if layout == "csr":
        return torch.sparse_csr_tensor(crow, col, values, csr.shape, check_invariants=True)
    row = torch.repeat_interleave(torch.arange(csr.shape[0]), crow.diff())
    return torch.sparse_coo_tensor(
        torch.stack([row, col]), values, csr.shape, is_coalesced=True, check_invariants=True
    )


def as_csr(matrix: sp.sparray | sp.spmatrix) -> sp.csr_array:
    """Canonical CSR (sorted, no duplicates, no stored zeros), float64; the input is never modified (a
    non-canonical one is copied), and a canonical float64 one shares its arrays."""
    csr = sp.csr_array(matrix, dtype=np.float64)
    if not csr.has_canonical_format or (csr.data == 0).any():
        csr = csr.copy()
        csr.sum_duplicates()
        csr.eliminate_zeros()
    return csr


def binary(matrix: sp.csr_array) -> sp.csr_array:
    """The 0/1 pattern of a matrix's nonzeros, float64."""
    binary = sp.csr_array(matrix, copy=True)
    binary.data = (binary.data != 0).astype(np.float64)
    binary.eliminate_zeros()
    return binary
