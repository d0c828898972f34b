r"""Products through a partitioned neighborhood with the halo exchange hidden behind them.

:math:`N x = N_{\text{own}} x_{\text{own}} + N_{\text{halo}} x_{\text{halo}}`:
the exchange of :math:`x_{\text{halo}}` starts, the owned columns are
multiplied meanwhile, then the halo columns finish the boundary rows (the only
rows with halo entries). Backward runs the transpose the same way: the halo
rows' gradients leave first, the owned columns' gradient is computed while
they travel, and the owners add what comes back.
"""

import time

import torch

from topodist.ops.spmm import SparseRows, sparse_rows_matmul

__all__ = ["ColumnSplit", "OverlappedProduct"]


class ColumnSplit:
    """A local matrix split into its owned-source columns and its boundary rows' halo columns.

    ``owned`` (all rows x owned columns) is multiplied while the halo is in
    flight; ``halo`` holds only the boundary rows (those with a halo entry),
    so finishing them costs in proportion to the boundary, not the part.
    Both are :class:`~topodist.ops.spmm.SparseRows`: CSR, with the transposes
    backward needs built on the first backward and kept. Every product is
    differentiable (a cached halo is multiplied outside :class:`OverlappedProduct`).
    """

    def __init__(self, local: torch.Tensor, n_owned: int, n_halo: int) -> None:
        indices, values = local.indices(), local.values()
        owned = indices[1] < n_owned
        n_rows = local.shape[0]
        self.owned = _sparse_rows(indices[0, owned], indices[1, owned], values[owned], (n_rows, n_owned))
        halo_rows = indices[0, ~owned]
        self.boundary_rows, compact_rows = torch.unique(halo_rows, return_inverse=True)
        self.halo = _sparse_rows(
            compact_rows, indices[1, ~owned] - n_owned, values[~owned], (len(self.boundary_rows), n_halo)
        )
        self.n_halo = n_halo
        self.has_halo = len(self.boundary_rows) > 0

    def product(self, x_owned: torch.Tensor) -> torch.Tensor:
        """The owned columns' product, shape = (..., n_rows, channels)."""
        return sparse_rows_matmul(self.owned, x_owned)

    def add_halo(self, y: torch.Tensor, halo: torch.Tensor) -> torch.Tensor:
        """Add the halo columns' product into the boundary rows of ``y``: in place unless autograd records it."""
        if not self.has_halo:
            return y
        update = sparse_rows_matmul(self.halo, halo)
        if torch.is_grad_enabled():
            return y.index_add(-2, self.boundary_rows, update)
        y.movedim(-2, 0).index_add_(0, self.boundary_rows, update.movedim(-2, 0))
        return y

    def to_halo(self, grad_y: torch.Tensor) -> torch.Tensor:
        """Gradient of the halo features, shape = (..., n_halo, channels)."""
        if not self.has_halo:
            return grad_y.new_zeros((*grad_y.shape[:-2], self.n_halo, grad_y.shape[-1]))
        return sparse_rows_matmul(self.halo.T, grad_y.index_select(-2, self.boundary_rows))

    def to_owned(self, grad_y: torch.Tensor) -> torch.Tensor:
        """Gradient of the owned features through the owned columns."""
        return sparse_rows_matmul(self.owned.T, grad_y)


def _sparse_rows(rows, cols, values, shape) -> SparseRows:
    coo = torch.sparse_coo_tensor(torch.stack([rows, cols]), values, shape, check_invariants=False).coalesce()
    return SparseRows.from_coo(*coo.indices(), coo.values(), shape)


class OverlappedProduct(torch.autograd.Function):
    """``(y, halo) = (N_own x + N_halo halo(x), halo(x))``, the exchange hidden behind ``N_own x``."""

    @staticmethod
    def forward(ctx, x_owned, exchanger, split, label=""):
        halo_rows, work = exchanger.start(x_owned, label)
        start = time.perf_counter()
        y = split.product(x_owned)
        exchanger.compute_seconds += time.perf_counter() - start
        exchanger.wait(work)
        halo = halo_rows.movedim(0, -2)
        start = time.perf_counter()
        split.add_halo(y, halo)
        exchanger.compute_seconds += time.perf_counter() - start
        ctx.exchanger, ctx.split, ctx.owned_shape, ctx.label = exchanger, split, x_owned.shape, label
        return y, halo

    @staticmethod
    def backward(ctx, grad_y, grad_halo):
        exchanger, split = ctx.exchanger, ctx.split
        if grad_y is None:
            grad_y = grad_halo.new_zeros((*grad_halo.shape[:-2], split.owned.shape[0], grad_halo.shape[-1]))
        start = time.perf_counter()
        to_halo = split.to_halo(grad_y)
        if grad_halo is not None:
            to_halo = to_halo + grad_halo
        exchanger.compute_seconds += time.perf_counter() - start
        received, work = exchanger.start_reverse(to_halo, ctx.label)
        start = time.perf_counter()
        grad_x = split.to_owned(grad_y)
        exchanger.compute_seconds += time.perf_counter() - start
        exchanger.wait(work)
        return exchanger.accumulate(grad_x.reshape(ctx.owned_shape), received), None, None, None
