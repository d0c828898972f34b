"""Scatter reductions: the one place where topodist aggregates messages.

Two backends compute the same reductions:

- ``"torch_scatter"``: the fused kernels of the ``torch_scatter`` package;
- ``"native"``: ``Tensor.index_add_`` and ``Tensor.scatter_reduce_`` from torch.

The backend is chosen, in this order, by the ``backend`` argument, by the
environment variable ``TOPODIST_SCATTER`` (``torch_scatter`` or ``native``),
and otherwise is ``torch_scatter`` when it is importable and ``native`` when not.
"""

import os
from importlib.util import find_spec
from typing import Literal

import torch

from topodist.ops.precision import accumulation_dtype

__all__ = ["SCATTER_REDUCTIONS", "resolve_backend", "scatter", "scatter_softmax"]

SCATTER_REDUCTIONS = ("sum", "add", "mean", "max", "min")
SCATTER_BACKENDS = ("torch_scatter", "native")
BACKEND_ENV_VAR = "TOPODIST_SCATTER"

_HAS_TORCH_SCATTER = find_spec("torch_scatter") is not None


def resolve_backend(
    backend: Literal["torch_scatter", "native"] | None = None,
) -> str:
    """Return the scatter backend to use.

    Parameters
    ----------
    backend : {"torch_scatter", "native"}, optional
        Explicit choice. When omitted, ``TOPODIST_SCATTER`` decides, and
        otherwise ``torch_scatter`` if it is importable, else ``native``.

    Returns
    -------
    str
        ``"torch_scatter"`` or ``"native"``.
    """
    source = "backend"
    if backend is None:
        backend = os.environ.get(BACKEND_ENV_VAR) or None
        source = f"environment variable {BACKEND_ENV_VAR}"
    if backend is None:
        return "torch_scatter" if _HAS_TORCH_SCATTER else "native"
    if backend not in SCATTER_BACKENDS:
        raise ValueError(
            f"{source}={backend!r} is not a scatter backend; "
            f"choose one of {', '.join(SCATTER_BACKENDS)}."
        )
    if backend == "torch_scatter" and not _HAS_TORCH_SCATTER:
        raise ImportError(
            f"{source}='torch_scatter' but torch_scatter is not installed; install "
            "it with `pip install --no-build-isolation torch-scatter` after torch, "
            "or select the native backend."
        )
    return backend


def scatter(
    src: torch.Tensor,
    index: torch.Tensor,
    dim: int = -2,
    dim_size: int | None = None,
    reduce: Literal["sum", "add", "mean", "max", "min"] = "sum",
    backend: Literal["torch_scatter", "native"] | None = None,
) -> torch.Tensor:
    r"""Reduce the slices of ``src`` along ``dim`` that share an index.

    .. math::
        \mathrm{out}_{\ldots, i, \ldots}
            = \mathop{\mathrm{reduce}}_{m \,:\, \mathrm{index}_m = i} \mathrm{src}_{\ldots, m, \ldots}

    Outputs with no contributing slice are zero, for every reduction.

    Parameters
    ----------
    src : torch.Tensor, shape = (..., n_messages, ...)
        Values to reduce; ``dim`` indexes the messages.
    index : torch.Tensor, shape = (n_messages,)
        Integer output position of every message, in ``[0, dim_size)``.
    dim : int, default=-2
        Dimension of ``src`` along which messages are stacked.
    dim_size : int, optional
        Size of the output along ``dim``. Defaults to ``index.max() + 1``
        (0 when ``index`` is empty); pass it to keep trailing empty outputs.
    reduce : {"sum", "add", "mean", "max", "min"}, default="sum"
        Reduction; ``"add"`` is ``"sum"``, ``"mean"`` divides by the number of
        messages of each output.
    backend : {"torch_scatter", "native"}, optional
        See :func:`resolve_backend`.

    Returns
    -------
    torch.Tensor, shape = (..., dim_size, ...)
        ``src``'s shape with ``dim`` resized to ``dim_size``. Sums of float16 or
        bfloat16 messages accumulate in float32 (:mod:`topodist.ops.precision`).
    """
    if reduce not in SCATTER_REDUCTIONS:
        raise ValueError(
            f"reduce={reduce!r} is not a scatter reduction; "
            f"choose one of {', '.join(SCATTER_REDUCTIONS)}."
        )
    dim = dim if dim >= 0 else dim + src.dim()
    if not 0 <= dim < src.dim():
        raise ValueError(f"dim is out of range for src of shape {tuple(src.shape)}.")
    if index.dim() != 1 or index.numel() != src.shape[dim]:
        raise ValueError(
            f"index must be 1-D with one entry per message along dim {dim}: "
            f"got index of shape {tuple(index.shape)} for src of shape {tuple(src.shape)}."
        )
    if dim_size is None:
        dim_size = int(index.max()) + 1 if index.numel() > 0 else 0
    reduce = "sum" if reduce == "add" else reduce
    if reduce in ("sum", "mean") and accumulation_dtype(src.dtype) != src.dtype:
        return scatter(src.to(accumulation_dtype(src.dtype)), index, dim, dim_size, reduce, backend).to(src.dtype)
    if resolve_backend(backend) == "torch_scatter":
        import torch_scatter

        return torch_scatter.scatter(src, index, dim=dim, dim_size=dim_size, reduce=reduce)
    return _scatter_native(src, index, dim, dim_size, reduce)


def _scatter_native(
    src: torch.Tensor, index: torch.Tensor, dim: int, dim_size: int, reduce: str
) -> torch.Tensor:
    """Scatter with torch's own indexed reductions (see :func:`scatter`)."""
    shape = list(src.shape)
    shape[dim] = dim_size
    out = src.new_zeros(shape)
    if reduce in ("sum", "mean"):
        out = out.index_add(dim, index, src)
        if reduce == "mean":
            count = torch.zeros(dim_size, dtype=src.dtype, device=src.device)
            count = count.index_add(0, index, torch.ones_like(index, dtype=src.dtype))
            count = count.clamp(min=1).view([-1] + [1] * (src.dim() - dim - 1))
            out = out / count
        return out
    view = [1] * src.dim()
    view[dim] = -1
    expanded_index = index.view(view).expand_as(src)
    amax_or_amin = "amax" if reduce == "max" else "amin"
    return out.scatter_reduce(dim, expanded_index, src, amax_or_amin, include_self=False)


def scatter_softmax(src: torch.Tensor, index: torch.Tensor, dim_size: int, backend: str | None = None) -> torch.Tensor:
    r"""Softmax over the messages of each target: :math:`e^{s_m - \max} / \sum_{m' : i_{m'} = i_m} e^{s_{m'} - \max}`.

    What ``torch.sparse.softmax(N, dim=1)`` computes over the stored entries of
    each row, and PyG's ``softmax(src, index)``: the maximum of each group is
    subtracted first, so large scores do not overflow.

    Parameters
    ----------
    src : torch.Tensor, shape = (..., n_messages)
        One score per message.
    index : torch.Tensor, shape = (n_messages,)
        Target (group) of every message.
    dim_size : int
        Number of targets.
    backend : {"torch_scatter", "native"}, optional
        The backend of the sum over each target (see :func:`resolve_backend`);
        the maximum, a shift only, is always torch's ``scatter_reduce``.

    Returns
    -------
    torch.Tensor, shape = (..., n_messages)
        Non-negative; the messages of each target sum to 1.
    """
    # the maximum only shifts the scores: torch's scatter_reduce serves it whatever the backend (on the CPU
    # about 3x faster than torch_scatter's max, which also tracks the argmax)
    maximum = _scatter_native(src.detach(), index, src.dim() - 1, dim_size, "max")
    exponential = torch.exp(src - maximum.index_select(-1, index))
    total = scatter(exponential, index, dim=-1, dim_size=dim_size, reduce="sum", backend=backend)
    return exponential / total.index_select(-1, index)
