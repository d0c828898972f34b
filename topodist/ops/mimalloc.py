"""The ``topodist`` command runs under mimalloc: glibc's heap fragments over a run, mimalloc's does not.

A CPU training step allocates tensors of a part's cells times the channels,
in an order that shifts from step to step, and frees them. glibc's ``malloc``
serves those below its mmap threshold (32 MiB) from one heap, and the holes
they leave fit the next step's tensors less and less: HSN on a 1M-cell torus
(one CPU process, BENCHMARKS.md) held 446 MiB between steps throughout, but
its resident memory rose from 900 MiB after the first step to 1,892 MiB after
360 steps, where it stayed; four ranks of a quarter each rose from 267-302 to
475-542 MiB in 240 steps, with glibc's defaults as with
:mod:`topodist.ops.host_memory`'s thresholds. Under mimalloc (Microsoft's
allocator, from the ``cmeel-mimalloc`` package) the same run stays at 965
MiB, and the four ranks at 285-293 MiB.

An allocator replaces ``malloc`` only when the dynamic loader preloads it, so
:func:`run_under_mimalloc` starts the process again, once, with the library
in ``LD_PRELOAD``; the ``topodist`` command calls it first thing, and every
process started from it (Lightning's ranks, ``srun``'s tasks through the
command) inherits the variable. It does nothing when
``TOPODIST_HOST_MEMORY`` is ``keep`` or ``release`` (glibc, with or without
:mod:`topodist.ops.host_memory`'s thresholds), when the environment already
chooses an allocator (see :func:`topodist.ops.host_memory.user_chose_allocator`),
off Linux, or when the package is not installed. A script that imports
topodist runs with glibc and those thresholds; ``python -m topodist.ops.mimalloc``
prints the library's path for a shell to preload:

    LD_PRELOAD=$(python -m topodist.ops.mimalloc) python train.py
"""

import os
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

from topodist.ops.host_memory import host_memory_choice, user_chose_allocator

__all__ = ["DISTRIBUTION", "library_path", "run_under_mimalloc"]

DISTRIBUTION = "cmeel-mimalloc"


def library_path() -> Path | None:
    """The shared library of the installed ``cmeel-mimalloc``, or None when it is not installed.

    Returns
    -------
    pathlib.Path or None
        An existing ``libmimalloc.so``.
    """
    try:
        files = metadata.distribution(DISTRIBUTION).files or []
    except metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.name == "libmimalloc.so":
            path = Path(file.locate()).resolve()
            if path.is_file():
                return path
    return None


def run_under_mimalloc(environ: Mapping[str, str] = os.environ) -> None:
    """Start this process again with mimalloc preloaded, unless the environment chose otherwise.

    Returns only when it does not restart the process: with ``TOPODIST_HOST_MEMORY``
    set to ``keep`` or ``release``, an allocator already chosen (``LD_PRELOAD``,
    ``GLIBC_TUNABLES``, ``MALLOC_*``), off Linux, or without the library.
    Otherwise it replaces the process (``os.execve``) with the same interpreter,
    options and arguments (``sys.orig_argv``) and ``LD_PRELOAD`` naming the library.

    Parameters
    ----------
    environ : Mapping[str, str], default=os.environ
        The environment read, and given to the new process.

    Raises
    ------
    ValueError
        When ``TOPODIST_HOST_MEMORY`` is not one of its values.
    """
    if host_memory_choice(environ) != "mimalloc" or user_chose_allocator(environ) or sys.platform != "linux":
        return
    library = library_path()
    if library is None:
        return
    preload = " ".join(filter(None, [str(library), environ.get("LD_PRELOAD", "")]))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], {**environ, "LD_PRELOAD": preload})


if __name__ == "__main__":
    path = library_path()
    if path is None:
        sys.exit(f"{DISTRIBUTION} is not installed here: pip install {DISTRIBUTION}")
    print(path)
