r"""Linear aggregation :math:`N x` as a CSR product, with a cached transpose for backward.

A :class:`SparseRows` holds one neighborhood in CSR form, built once; its
transpose (what backward multiplies by) is built on the first backward and
kept. :func:`sparse_rows_matmul` is the differentiable product: it never
materializes one message per stored entry, as gather + scatter does.
:func:`weighted_rows_matmul` is the same product with other values on the
pattern (attention weights), differentiable in those values too.

On the CPU, float32 and float64 products run the compiled row-block kernel of
:mod:`topodist.ops.csr_kernel`; elsewhere (CUDA, other dtypes, no numba)
torch's CSR product (cuSPARSE on a GPU). float16 and bfloat16 features are
multiplied in float32 and the product rounded back once
(:mod:`topodist.ops.precision`).
"""

import math
import weakref

import torch

from topodist.ops import csr_kernel
from topodist.ops.precision import accumulation_dtype

__all__ = ["SparseRows", "sparse_rows_matmul", "weighted_rows_matmul"]


class SparseRows:
    """A sparse matrix in CSR form, with what products through it need, built once.

    Parameters
    ----------
    crow : torch.Tensor, shape = (n_rows + 1,)
        int64 row pointers.
    col : torch.Tensor, shape = (nnz,)
        int64 column of every stored entry, sorted within each row.
    values : torch.Tensor, shape = (nnz,)
        Entry values.
    shape : (int, int)
        ``(n_rows, n_columns)``.
    """

    def __init__(self, crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, shape: tuple[int, int]) -> None:
        self.crow, self.col, self.values = crow, col, values.detach()
        self.shape = (int(shape[0]), int(shape[1]))
        self._values_by_dtype: dict[torch.dtype, torch.Tensor] = {values.dtype: self.values}
        # the transpose built from this matrix, kept; or, on a transpose, a weak reference to the matrix it
        # was built from: a pair that held each other would be a reference cycle, freed only by the garbage
        # collector, which does not see (GPU) memory
        self._transpose: SparseRows | None = None
        self._transpose_of: weakref.ref | None = None
        self._transpose_order: torch.Tensor | None = None
        self._torch_csr: dict[torch.dtype, torch.Tensor] = {}
        self._row_counts: torch.Tensor | None = None
        self._row_sums: torch.Tensor | None = None
        self.blocks: dict[int, object] = {}

    @classmethod
    def from_coo(cls, row: torch.Tensor, col: torch.Tensor, values: torch.Tensor, shape) -> "SparseRows":
        """From coalesced COO entries (sorted by row, then column).

        Parameters
        ----------
        row, col : torch.Tensor, shape = (nnz,)
        values : torch.Tensor, shape = (nnz,)
        shape : (int, int)
        """
        crow = torch.zeros(int(shape[0]) + 1, dtype=torch.int64, device=row.device)
        if row.numel():
            crow[1:] = torch.bincount(row, minlength=int(shape[0])).cumsum(0)
        return cls(crow, col.to(torch.int64).contiguous(), values.contiguous(), shape)

    @property
    def nnz(self) -> int:
        """Number of stored entries."""
        return self.col.numel()

    @property
    def T(self) -> "SparseRows":  # noqa: N802
        """The transpose, in CSR form: built on first use and kept.

        The transpose of a transpose is the matrix it was built from for as
        long as that is alive (it is held weakly, so the two form no reference
        cycle and go as soon as nothing else holds them).
        """
        if self._transpose is not None:
            return self._transpose
        origin = self._transpose_of() if self._transpose_of is not None else None
        if origin is not None:
            return origin
        order = self.transpose_order()
        transpose = SparseRows.from_coo(self.col[order], self.entry_rows()[order], self.values[order], self.shape[::-1])
        transpose._transpose_of = weakref.ref(self)
        self._transpose = transpose
        self._transpose_of = None
        return transpose

    def transpose_order(self) -> torch.Tensor:
        """Where each stored entry of :attr:`T` comes from: ``T``'s ``e``-th entry is this matrix's ``order[e]``-th.

        Returns
        -------
        torch.Tensor, shape = (nnz,), int64
        """
        if self._transpose_order is None:
            # the entries are unique, so sorting them by (column, row) is the transpose's CSR order, whichever
            # of the two was built from the other
            self._transpose_order = torch.argsort(self.col * max(self.shape[0], 1) + self.entry_rows())
        return self._transpose_order

    def row_counts(self) -> torch.Tensor:
        """Stored entries of every row, shape = (n_rows,), int64."""
        if self._row_counts is None:
            self._row_counts = self.crow.diff()
        return self._row_counts

    def entry_rows(self) -> torch.Tensor:
        """Row of every stored entry, shape = (nnz,), int64 (the COO row index); computed, not kept."""
        return torch.repeat_interleave(torch.arange(self.shape[0], device=self.crow.device), self.row_counts())

    def row_sums(self) -> torch.Tensor:
        """``sum_j N[i, j]`` of every row, shape = (n_rows,)."""
        if self._row_sums is None:
            self._row_sums = torch.zeros(self.shape[0], dtype=self.values.dtype, device=self.values.device)
            self._row_sums.index_add_(0, self.entry_rows(), self.values)
        return self._row_sums

    def values_as(self, dtype: torch.dtype) -> torch.Tensor:
        """The values in ``dtype``, converted once."""
        if dtype not in self._values_by_dtype:
            self._values_by_dtype[dtype] = self.values.to(dtype)
        return self._values_by_dtype[dtype]

    def matmul(self, x: torch.Tensor) -> torch.Tensor:
        """``self @ x`` without autograd.

        Parameters
        ----------
        x : torch.Tensor, shape = (..., n_columns, channels)

        Returns
        -------
        torch.Tensor, shape = (..., n_rows, channels)
        """
        rows = x.movedim(-2, 0)
        flat = rows.reshape(rows.shape[0], math.prod(rows.shape[1:])).contiguous()
        if csr_kernel.available(flat):
            product = csr_kernel.csr_matmul(self.crow, self.col, self.values_as(flat.dtype), flat, self.blocks)
        else:
            product = torch.sparse.mm(self._csr_tensor(flat.dtype), flat)
        if x.dim() == 2:  # the product itself, not a view of it: its owner may add rows into it in place
            return product
        return product.reshape(self.shape[0], *rows.shape[1:]).movedim(0, -2)

    def _csr_tensor(self, dtype: torch.dtype) -> torch.Tensor:
        if dtype not in self._torch_csr:
            self._torch_csr[dtype] = torch.sparse_csr_tensor(
                self.crow, self.col, self.values_as(dtype), self.shape, check_invariants=False
            )
        return self._torch_csr[dtype]


class _LinearAggregation(torch.autograd.Function):
    """``y = N x``; ``dL/dx = N^T dL/dy`` through the cached transpose (itself differentiable)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, rows: SparseRows) -> torch.Tensor:
        ctx.rows = rows
        return rows.matmul(x)

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor):
        return sparse_rows_matmul(ctx.rows.T, grad_y), None


class _WeightedAggregation(torch.autograd.Function):
    r"""``y = N_v x`` with entry values ``v`` of ``N``'s pattern (attention): ``dL/dx = N_v^T dL/dy`` through the
    cached transpose, ``dL/dv_e = \langle (dL/dy)_i, x_j \rangle`` for entry ``e = (i, j)``; CPU kernels only."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, values: torch.Tensor, rows: SparseRows) -> torch.Tensor:
        x, values = x.contiguous(), values.contiguous()
        ctx.save_for_backward(x, values)
        ctx.rows = rows
        return csr_kernel.csr_matmul(rows.crow, rows.col, values, x, rows.blocks)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_y: torch.Tensor):
        x, values = ctx.saved_tensors
        rows, grad_y = ctx.rows, grad_y.contiguous()
        grad_x = grad_values = None
        if ctx.needs_input_grad[0]:
            transpose = rows.T
            grad_x = csr_kernel.csr_matmul(
                transpose.crow, transpose.col, values[rows.transpose_order()], grad_y, transpose.blocks
            )
        if ctx.needs_input_grad[1]:
            grad_values = csr_kernel.csr_sampled_dots(rows.crow, rows.col, grad_y, x, rows.blocks)
        return grad_x, grad_values, None


def weighted_rows_matmul(rows: SparseRows, values: torch.Tensor, x: torch.Tensor) -> torch.Tensor | None:
    r""":math:`N_v x` for values ``v`` on ``rows``' pattern, differentiable in both; ``None`` where no kernel serves.

    What attention-weighted aggregation computes (``sum_j v_ij x_j``) without
    one gathered message per stored entry.

    Parameters
    ----------
    rows : SparseRows, shape = (n_target_cells, n_source_cells)
        The pattern; its own values are not read.
    values : torch.Tensor, shape = (nnz,)
        One value per stored entry, in ``rows``' (CSR) order.
    x : torch.Tensor, shape = (n_source_cells, channels)

    Returns
    -------
    torch.Tensor, shape = (n_target_cells, channels), or None
        ``None`` unless ``x`` is 2-D on the CPU in float32 or float64 and
        ``values`` is 1-D in the same dtype; the caller then gathers and scatters.
    """
    if x.dim() != 2 or values.dim() != 1 or values.dtype != x.dtype or not csr_kernel.available(x):
        return None
    if x.shape[0] != rows.shape[1] or values.numel() != rows.nnz:
        raise ValueError(
            f"x has {x.shape[0]} cells and {values.numel()} values for a {rows.shape} pattern of {rows.nnz} entries."
        )
    return _WeightedAggregation.apply(x, values, rows)


def sparse_rows_matmul(rows: SparseRows, x: torch.Tensor) -> torch.Tensor:
    r""":math:`N x`, differentiable in ``x`` (the neighborhood's values are constants).

    Parameters
    ----------
    rows : SparseRows, shape = (n_target_cells, n_source_cells)
    x : torch.Tensor, shape = (..., n_source_cells, channels)

    Returns
    -------
    torch.Tensor, shape = (..., n_target_cells, channels)
    """
    if x.shape[-2] != rows.shape[1]:
        raise ValueError(
            f"x has {x.shape[-2]} cells (shape {tuple(x.shape)}) but the neighborhood has {rows.shape[1]} columns."
        )
    accumulate = accumulation_dtype(x.dtype)
    if accumulate != x.dtype:
        return _LinearAggregation.apply(x.to(accumulate), rows).to(x.dtype)
    return _LinearAggregation.apply(x, rows)
