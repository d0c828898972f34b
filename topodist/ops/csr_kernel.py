"""The CPU kernels of a CSR sparse-dense product ``out = A @ x`` and of its gradient in ``A``'s values
(one dot product per stored entry), over blocks of rows.

The inner loop is compiled by numba (``nogil``), so row blocks run on the
threads of a small pool at the same time (:mod:`topodist.ops.worker_threads`);
each row accumulates in place into its output row, which is written once.
Blocks hold about equal numbers of stored entries.

Each process compiles the kernel itself (about 0.13 s per dtype) and keeps no
on-disk cache: numba's cache writes its index before the code it names, so a
rank that reads it while another rank writes it (every rank of a job starts at
once, often on one shared file system) can load the other dtype's code and fail.

Without numba, :func:`available` is ``False`` and callers use torch's CSR product.
"""

from importlib.util import find_spec

import numpy as np
import torch

from topodist.ops.worker_threads import run_in_blocks, threads_for

__all__ = ["available", "csr_matmul", "csr_sampled_dots"]

KERNEL_DTYPES = (torch.float32, torch.float64)
# Multiply-adds (stored entries x channels) each thread must get, or handing it a block costs more than it
# saves: a product runs on one thread below twice this. On the 2-core machine of BENCHMARKS.md two threads were
# slower up to about 2.5M multiply-adds (a 40 x 40 torus's products, 0.6-1.2M: HSN 16% and UniGCN 24% slower
# per step at 2^18) and faster from about 3.8M on ("The CSR kernel's threads on small complexes").
MIN_WORK_PER_THREAD = 1 << 20

_HAS_NUMBA = find_spec("numba") is not None
_kernel = None
_dots_kernel = None


def available(x: torch.Tensor) -> bool:
    """Whether the compiled kernel serves ``x``: a CPU float32 or float64 tensor, with numba installed."""
    return _HAS_NUMBA and x.device.type == "cpu" and x.dtype in KERNEL_DTYPES


def _compiled():
    global _kernel
    if _kernel is None:
        import numba

        @numba.njit(nogil=True, cache=False, fastmath=False, boundscheck=False)
        def rows_times_dense(crow, col, values, x, out, first_row, end_row):  # pragma: no cover - compiled
            n_channels = x.shape[1]
            for row in range(first_row, end_row):
                for channel in range(n_channels):
                    out[row, channel] = 0
                for entry in range(crow[row], crow[row + 1]):
                    value = values[entry]
                    source = col[entry]
                    for channel in range(n_channels):
                        out[row, channel] += value * x[source, channel]

        _kernel = rows_times_dense
    return _kernel


def _compiled_dots():
    global _dots_kernel
    if _dots_kernel is None:
        import numba

        @numba.njit(nogil=True, cache=False, fastmath=False, boundscheck=False)
        def sampled_dots(crow, col, y, x, out, first_row, end_row):  # pragma: no cover - compiled
            n_channels = x.shape[1]
            for row in range(first_row, end_row):
                for entry in range(crow[row], crow[row + 1]):
                    source = col[entry]
                    total = y[row, 0] * x[source, 0]  # callers skip products without channels
                    for channel in range(1, n_channels):
                        total += y[row, channel] * x[source, channel]
                    out[entry] = total

        _dots_kernel = sampled_dots
    return _dots_kernel


def row_blocks(crow: np.ndarray, n_blocks: int) -> np.ndarray:
    """Row boundaries splitting a CSR matrix into ``n_blocks`` blocks of about equal work.

    Work is the stored entries plus the rows (each row writes its output once).

    Parameters
    ----------
    crow : numpy.ndarray, shape = (n_rows + 1,)
        Row pointers.
    n_blocks : int

    Returns
    -------
    numpy.ndarray, shape = (n_blocks + 1,)
        Non-decreasing, from 0 to ``n_rows``.
    """
    n_rows = len(crow) - 1
    work = crow + np.arange(n_rows + 1)
    targets = np.linspace(0, work[-1], n_blocks + 1)
    bounds = np.searchsorted(work, targets).clip(0, n_rows)
    bounds[0], bounds[-1] = 0, n_rows
    return bounds


def csr_matmul(
    crow: torch.Tensor, col: torch.Tensor, values: torch.Tensor, x: torch.Tensor, blocks: dict | None = None
) -> torch.Tensor:
    """``A @ x`` for a CSR matrix ``A`` and a dense 2-D ``x``, on the CPU threads torch may use.

    Parameters
    ----------
    crow : torch.Tensor, shape = (n_rows + 1,)
        int64 row pointers.
    col : torch.Tensor, shape = (nnz,)
        int64 column of every stored entry.
    values : torch.Tensor, shape = (nnz,)
        Entry values, in ``x``'s dtype.
    x : torch.Tensor, shape = (n_columns, channels)
        Contiguous, float32 or float64, on the CPU.
    blocks : dict, optional
        Cache of row boundaries per thread count, kept by the caller with the matrix.

    Returns
    -------
    torch.Tensor, shape = (n_rows, channels)
    """
    n_rows, n_channels = len(crow) - 1, x.shape[1]
    out = torch.empty((n_rows, n_channels), dtype=x.dtype)
    if n_rows == 0 or n_channels == 0:
        return out
    _run_row_blocks(_compiled(), (crow, col, values, x, out), len(col) * n_channels, blocks)
    return out


def csr_sampled_dots(
    crow: torch.Tensor, col: torch.Tensor, y: torch.Tensor, x: torch.Tensor, blocks: dict | None = None
) -> torch.Tensor:
    """``<y[i], x[j]>`` for every stored entry ``(i, j)`` of a CSR pattern: the gradient of ``A @ x`` in ``A``'s values.

    Parameters
    ----------
    crow : torch.Tensor, shape = (n_rows + 1,)
        int64 row pointers.
    col : torch.Tensor, shape = (nnz,)
        int64 column of every stored entry.
    y : torch.Tensor, shape = (n_rows, channels)
        Contiguous, in ``x``'s dtype (the gradient of the product).
    x : torch.Tensor, shape = (n_columns, channels)
        Contiguous, float32 or float64, on the CPU.
    blocks : dict, optional
        Cache of row boundaries per thread count, as for :func:`csr_matmul`.

    Returns
    -------
    torch.Tensor, shape = (nnz,)
        One dot product per stored entry, in CSR order.
    """
    out = torch.zeros(len(col), dtype=x.dtype)
    n_rows = len(crow) - 1
    if n_rows == 0 or len(col) == 0 or x.shape[1] == 0:
        return out
    _run_row_blocks(_compiled_dots(), (crow, col, y, x, out), len(col) * x.shape[1], blocks)
    return out


def _run_row_blocks(kernel, tensors: tuple, work: int, blocks: dict | None) -> None:
    """Run ``kernel(*arrays, first_row, end_row)`` over blocks of rows of the CSR matrix ``tensors[:2]``."""
    arrays = tuple(t.detach().numpy() for t in tensors)
    n_rows = len(arrays[0]) - 1
    n_threads = threads_for(work, MIN_WORK_PER_THREAD)
    if n_threads == 1:
        kernel(*arrays, 0, n_rows)
        return
    bounds = None if blocks is None else blocks.get(n_threads)
    if bounds is None:
        bounds = row_blocks(arrays[0], n_threads)
        if blocks is not None:
            blocks[n_threads] = bounds
    run_in_blocks(kernel, arrays, bounds)
