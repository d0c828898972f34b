"""A small pool of threads for topodist's compiled CPU kernels, and running a kernel over blocks on it.

The kernels (the CSR product of :mod:`topodist.ops.csr_kernel`, the ELU of
:mod:`topodist.ops.activations`) are compiled by numba with ``nogil``, so
blocks of their work run on these threads and the caller's at the same time.
The pool is rebuilt after a fork (threads do not survive one), so forked
workers (Lightning's ``ddp_fork``) run the kernels as the parent does; numba's
own parallel layer is not used for that reason (its OpenMP layer aborts a
forked child).
"""

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch

__all__ = ["executor", "run_in_blocks", "threads_for"]

_pool: tuple[int, int, ThreadPoolExecutor] | None = None
_pool_lock = threading.Lock()


def executor(n_threads: int) -> ThreadPoolExecutor:
    """This process's pool of ``n_threads`` threads, made on first use and after a fork or a change of size."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid() or _pool[1] != n_threads:
            _pool = (os.getpid(), n_threads, ThreadPoolExecutor(n_threads, thread_name_prefix="topodist-kernel"))
        return _pool[2]


def threads_for(work: int, min_work_per_thread: int) -> int:
    """Threads for ``work`` units: torch's thread count, but at least ``min_work_per_thread`` units each, and one.

    Parameters
    ----------
    work : int
        Units of the kernel's work (multiply-adds, values).
    min_work_per_thread : int
        Units a thread must get, or handing it a block costs more than it saves.

    Returns
    -------
    int
        From 1 to ``torch.get_num_threads()``.
    """
    return max(1, min(torch.get_num_threads(), work // min_work_per_thread))


def run_in_blocks(kernel: Callable, arguments: tuple, bounds: Sequence[int]) -> None:
    """``kernel(*arguments, bounds[i], bounds[i + 1])`` for every block, the first on this thread.

    Parameters
    ----------
    kernel : callable
        A compiled ``nogil`` function that works on ``[first, end)`` of its arguments.
    arguments : tuple
        What every call gets before its block's bounds (numpy arrays, scalars).
    bounds : sequence of int, shape = (n_blocks + 1,)
        Non-decreasing block boundaries.
    """
    if len(bounds) <= 2:
        kernel(*arguments, int(bounds[0]), int(bounds[-1]))
        return
    pool = executor(len(bounds) - 2)
    futures = [pool.submit(kernel, *arguments, int(first), int(end)) for first, end in zip(bounds[1:-1], bounds[2:])]
    kernel(*arguments, int(bounds[0]), int(bounds[1]))
    for future in futures:
        future.result()
