"""topodist: distributed training of topological neural networks."""

from topodist.ops.host_memory import keep_freed_memory as _keep_freed_memory

__version__ = "0.1.0"

__all__ = ["Aggregation", "Conv", "MessagePassing", "__version__"]

_BASE_CLASSES = ("Aggregation", "Conv", "MessagePassing")


_keep_freed_memory()  # before the first step frees anything: glibc then keeps it (topodist.ops.host_memory)


def __getattr__(name: str):
    # The base classes (and torch with them) load on first use, so that the ``topodist`` command sets
    # OpenMP's environment before torch loads (topodist.ops.openmp).
    if name in _BASE_CLASSES:
        from topodist import base

        return getattr(base, name)
    raise AttributeError(f"module 'topodist' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_BASE_CLASSES))
