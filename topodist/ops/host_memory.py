"""glibc's malloc keeps the memory a training step frees, so that the next step does not fault it in again.

Every CPU forward and backward allocates tensors of a part's cells times the
channels and frees them again. glibc's ``malloc`` serves such blocks from
its heap once its dynamic mmap threshold has grown past them (at most 32 MiB),
but it trims the top of the heap whenever more than twice that threshold is
free there, as at the end of a backward pass: the next step's tensors are
then fresh pages, which the kernel zeroes and maps one 4 KiB fault at a
time. On the 200 x 200 torus of BENCHMARKS.md that was 22,000-82,000 faults
per step and a third of HSN's CPU step.

:func:`keep_freed_memory` fixes the mmap threshold at 32 MiB (where glibc's
dynamic one stops anyway) and trims only above 1 GiB free. Blocks above 32
MiB are still mapped and unmapped on their own, so a large complex's largest
tensors go back to the kernel when freed, as before. The process keeps at
most its heap's high-water mark; glibc still returns the heap's top once
more than 1 GiB of it is free. ``import topodist`` calls it. It is not
applied when the environment already chooses: ``GLIBC_TUNABLES`` naming a
``glibc.malloc`` tunable, one of glibc's ``MALLOC_MMAP_THRESHOLD_``-style
variables, an allocator in ``LD_PRELOAD`` (jemalloc, tcmalloc, mimalloc),
or ``TOPODIST_HOST_MEMORY=release`` (glibc's own behaviour). It does
nothing off glibc.

``TOPODIST_HOST_MEMORY`` takes three values: ``mimalloc`` (the default: the
``topodist`` command runs under mimalloc, :mod:`topodist.ops.mimalloc`, and
a process that imports topodist without it gets the thresholds above),
``keep`` (the thresholds above, also for the command) and ``release``
(glibc's defaults).
"""

import ctypes
import os
import sys
from collections.abc import Mapping

__all__ = [
    "ENVIRONMENT_VARIABLE", "MMAP_THRESHOLD", "TRIM_THRESHOLD", "host_memory_choice", "keep_freed_memory",
    "user_chose_allocator",
]

ENVIRONMENT_VARIABLE = "TOPODIST_HOST_MEMORY"
CHOICES = ("mimalloc", "keep", "release")
MMAP_THRESHOLD = 32 * 2**20  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit systems
TRIM_THRESHOLD = 2**30
_M_TRIM_THRESHOLD = -1  # mallopt parameters, malloc.h
_M_MMAP_THRESHOLD = -3
_ALLOCATORS = ("jemalloc", "tcmalloc", "mimalloc")
# glibc's older spellings of its mmap and trim tunables
_MALLOC_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_")


def user_chose_allocator(environ: Mapping[str, str]) -> bool:
    """Whether ``environ`` already sets glibc malloc's parameters or preloads another allocator."""
    if "glibc.malloc." in environ.get("GLIBC_TUNABLES", ""):
        return True
    if any(name in environ for name in _MALLOC_VARIABLES):
        return True
    return any(allocator in environ.get("LD_PRELOAD", "") for allocator in _ALLOCATORS)


def host_memory_choice(environ: Mapping[str, str]) -> str:
    """``TOPODIST_HOST_MEMORY`` in ``environ``: ``mimalloc`` (when unset), ``keep`` or ``release``.

    Raises
    ------
    ValueError
        When it is set to anything else.
    """
    choice = environ.get(ENVIRONMENT_VARIABLE, "mimalloc")
    if choice not in CHOICES:
        raise ValueError(f"{ENVIRONMENT_VARIABLE}={choice!r} is not one of {CHOICES}.")
    return choice


def _on_glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (ValueError, OSError, AttributeError):  # no such name here: not glibc
        return False


def keep_freed_memory(environ: Mapping[str, str] = os.environ) -> bool:
    """Set glibc malloc's mmap threshold to 32 MiB and its trim threshold to 1 GiB, unless the environment chose.

    Parameters
    ----------
    environ : Mapping[str, str], default=os.environ
        Read for ``TOPODIST_HOST_MEMORY`` (``release`` leaves glibc as it is)
        and for the user's own allocator settings.

    Returns
    -------
    bool
        Whether the thresholds were set.

    Raises
    ------
    ValueError
        When ``TOPODIST_HOST_MEMORY`` is not one of its values.
    """
    if host_memory_choice(environ) == "release" or user_chose_allocator(environ):
        return False
    if not sys.platform.startswith("linux") or not _on_glibc():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # no libc symbols to reach from here (a static build): leave malloc as it is
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
