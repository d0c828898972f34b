"""Release the default process group before the interpreter exits.

Left to interpreter finalization, a process group can be destroyed while its
backend still has threads to join: the process then aborts ("terminate called
without an active exception", SIGABRT) after its work is done, about once in
tens of runs. Destroying it from an ``atexit`` hook, after a garbage
collection that frees the autograd graphs still holding it, avoids that.

A group the caller destroyed (``destroy_process_group``, as Lightning does at
teardown) is only shut down: objects in reference cycles (a cached halo whose
graph holds its exchanger, DDP's graphs) still hold its backend, and
finalization would free it just the same. The hook collects those too; it
destroys nothing when the group is already gone.
"""

import atexit
import gc

import torch.distributed as dist

__all__ = ["release_process_group_at_exit"]

_registered = False


def release_process_group_at_exit() -> None:
    """Register (once per process) the hook that destroys the default process group at exit."""
    global _registered
    if not _registered:
        atexit.register(_release)
        _registered = True


def _release() -> None:
    gc.collect()
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
