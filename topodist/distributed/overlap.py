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

from topodist.ops import dense
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
        """Add the halo columns' product into the boundary rows of ``y``, the owned product just computed.

        In place, also when autograd records it, unless ``y`` is a view
        (batched features), which autograd forbids modifying in place as the
        output of a custom Function: then out of place, a copy of ``y``.
        """
        if not self.has_halo:
            return y
        update = sparse_rows_matmul(self.halo, halo)
        if torch.is_grad_enabled() and y._is_view():
            return y.index_add(-2, self.boundary_rows, update)
        return y.index_add_(-2, self.boundary_rows, update)

    def with_halo(self, x_owned: torch.Tensor, halo: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """``N_own x W + N_halo halo W`` with the halo at hand (``W`` the identity when ``None``), differentiably."""
        return self.add_halo(self.product(_times(x_owned, weight)), _times(halo, weight))

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
    """``(y, halo) = (N_own x W + N_halo halo(x) W, halo(x))``, the exchange hidden behind ``x W`` and ``N_own x W``.

    ``W`` is optional (the identity when ``None``). The halo of ``x`` itself
    travels, not that of ``x W``, so every product reading ``x`` shares one
    exchange whatever its weight; the halo's own rows are multiplied by ``W``
    here (``n_halo`` rows).
    """

    @staticmethod
    def forward(ctx, x_owned, exchanger, split, label="", weight=None):
        halo_rows, work = exchanger.start(x_owned, label)
        start = time.perf_counter()
        y = split.product(_times(x_owned, weight))
        exchanger.compute_seconds += time.perf_counter() - start
        exchanger.wait(work)
        halo = halo_rows.movedim(0, -2)
        start = time.perf_counter()
        split.add_halo(y, _times(halo, weight))
        exchanger.compute_seconds += time.perf_counter() - start
        ctx.exchanger, ctx.split, ctx.owned_shape, ctx.label = exchanger, split, x_owned.shape, label
        ctx.x_dtype = x_owned.dtype
        ctx.has_weight = weight is not None
        if ctx.has_weight:
            ctx.save_for_backward(x_owned, halo, weight)
        if not ctx.needs_input_grad[0]:
            # the halo depends on x alone: without x's gradient a cached halo must carry no graph (through the
            # weight), or a later step reading it (x unchanged) would run this node again
            ctx.mark_non_differentiable(halo)
        return y, halo

    @staticmethod
    def backward(ctx, grad_y, grad_halo):
        exchanger, split = ctx.exchanger, ctx.split
        if grad_y is None:
            # only the halo was read (later, from the cache): its gradient goes back to the owners; the saved
            # tensors are not needed, and may be freed by an earlier backward
            received, work = exchanger.start_reverse(grad_halo, ctx.label)
            exchanger.wait(work)
            grad_x = exchanger.accumulate(grad_halo.new_zeros(ctx.owned_shape), received)
            return grad_x, None, None, None, None
        x_owned, halo, weight = ctx.saved_tensors if ctx.has_weight else (None, None, None)
        # under autocast the forward multiplied in lower precision: the backward multiplies in the gradient's
        # dtype and returns each gradient in its input's dtype
        compute = grad_y.dtype
        transposed = None if weight is None else weight.T.to(compute)
        # the weight's gradient is local (x's and the halo's rows are both here): features without a gradient
        # (every rank runs the same model on the same kind of features) send nothing back
        needs_x = ctx.needs_input_grad[0]
        start = time.perf_counter()
        grad_halo_product = split.to_halo(grad_y)  # of halo W
        if needs_x:
            to_halo = _times(grad_halo_product, transposed).to(ctx.x_dtype)
            if grad_halo is not None:
                to_halo = to_halo + grad_halo
        exchanger.compute_seconds += time.perf_counter() - start
        if needs_x:
            received, work = exchanger.start_reverse(to_halo, ctx.label)
        start = time.perf_counter()
        grad_owned_product = split.to_owned(grad_y)  # of x W
        grad_weight = None
        if ctx.has_weight and ctx.needs_input_grad[4]:
            grad_weight = dense.rows_inner(x_owned.to(compute), grad_owned_product) + dense.rows_inner(
                halo.to(compute), grad_halo_product
            )
            grad_weight = grad_weight.to(weight.dtype)
        grad_x = _times(grad_owned_product, transposed).to(ctx.x_dtype) if needs_x else None
        exchanger.compute_seconds += time.perf_counter() - start
        if needs_x:
            exchanger.wait(work)
            grad_x = exchanger.accumulate(grad_x.reshape(ctx.owned_shape), received)
        return grad_x, None, None, None, grad_weight


def _times(x: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    return x if weight is None else dense.matmul(x, weight)

