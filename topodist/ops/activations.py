r"""ELU on the CPU through a compiled kernel: :math:`x` for :math:`x > 0`, else :math:`\alpha (e^x - 1)`.

torch computes the negative side with SLEEF's ``expm1``, which on the CPU of
BENCHMARKS.md runs at a third of a sigmoid's speed (120,000 x 64 float32
values: 3.0-3.3 ms on two threads, a sigmoid 1.1 ms); CWN applies an ELU to
every convolution's output. The kernel here evaluates ``expm1`` in a form the
compiler vectorizes: :math:`e^t - 1 = 2^{-k} p(r) + (2^{-k} - 1)` with
:math:`t = -k \ln 2 + r`, :math:`|r| \le \ln 2 / 2`, :math:`p` the Taylor
polynomial of ``expm1`` to degree 8 and :math:`2^{-k}` a product of exact
powers of two (inputs below -30 give -1, as ``expm1`` rounds them in float32).
Results are within 2 ulp of the exact ELU (torch's within 1-2), NaN stays NaN,
and the gradient is torch's ``elu_backward`` from the output. Blocks of the
values run on :mod:`topodist.ops.worker_threads`.

Other dtypes and devices, tensors below :data:`MIN_ELEMENTS` values, negative
``alpha`` and a missing numba go to :func:`torch.nn.functional.elu`.
"""

from importlib.util import find_spec

import numpy as np
import torch

from topodist.ops.worker_threads import run_in_blocks, threads_for

__all__ = ["MIN_ELEMENTS", "MIN_ELEMENTS_PER_THREAD", "elu"]

# Below this many values torch is as fast (2^18: 0.10 ms against 0.13; 2^19: 0.21 against 0.18; BENCHMARKS.md).
MIN_ELEMENTS = 1 << 19
# Values each thread must get, or handing it a block costs more than it saves.
MIN_ELEMENTS_PER_THREAD = 1 << 18

_HAS_NUMBA = find_spec("numba") is not None
_kernel = None
_f32 = np.float32  # numba reads module globals as constants: every literal below is float32


def _compiled():
    global _kernel
    if _kernel is None:
        import numba

        @numba.njit(nogil=True, cache=False, fastmath=False, boundscheck=False)
        def elu_block(x, out, alpha):  # pragma: no cover - compiled
            # a loop over the whole of its arrays: over range(first, end) numba's loop does not vectorize
            for i in range(x.shape[0]):
                value = x[i]
                t = value if value < _f32(0) else _f32(0)
                t = t if t > _f32(-30) else _f32(-30)
                k = np.int32(t * _f32(-1.4426950408889634) + _f32(0.5))  # round(-t / ln 2), 0 .. 43
                kf = _f32(k)
                r = t + kf * _f32(0.693145751953125) + kf * _f32(1.428606765330187e-06)  # ln 2: high, low parts
                p = r * (_f32(1) + r * (_f32(1 / 2) + r * (_f32(1 / 6) + r * (_f32(1 / 24) + r * (
                    _f32(1 / 120) + r * (_f32(1 / 720) + r * (_f32(1 / 5040) + r * _f32(1 / 40320))))))))
                scale = _f32(1)  # 2^-k from the bits of k: exact, and without a table the loop vectorizes
                scale = scale * (_f32(2.0 ** -1) if k & np.int32(1) else _f32(1))
                scale = scale * (_f32(2.0 ** -2) if k & np.int32(2) else _f32(1))
                scale = scale * (_f32(2.0 ** -4) if k & np.int32(4) else _f32(1))
                scale = scale * (_f32(2.0 ** -8) if k & np.int32(8) else _f32(1))
                scale = scale * (_f32(2.0 ** -16) if k & np.int32(16) else _f32(1))
                scale = scale * (_f32(2.0 ** -32) if k & np.int32(32) else _f32(1))
                negative = alpha * (scale * p + (scale - _f32(1)))
                out[i] = negative if value <= _f32(0) else value  # NaN fails both tests and stays

        @numba.njit(nogil=True, cache=False)
        def elu_values(x, out, alpha, first, end):  # pragma: no cover - compiled
            elu_block(x[first:end], out[first:end], alpha)

        _kernel = elu_values
    return _kernel


def _through_kernel(x: torch.Tensor, alpha: float) -> bool:
    return (
        _HAS_NUMBA
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and x.numel() >= MIN_ELEMENTS
        and alpha >= 0
    )


def _elu_values(x: torch.Tensor, alpha: float) -> torch.Tensor:
    values = x.detach().contiguous().view(-1)
    out = torch.empty_like(values)
    n_threads = threads_for(values.numel(), MIN_ELEMENTS_PER_THREAD)
    bounds = np.linspace(0, values.numel(), n_threads + 1).astype(np.int64)
    run_in_blocks(_compiled(), (values.numpy(), out.numpy(), np.float32(alpha)), bounds)
    return out.view(x.shape)


class _ELU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, alpha):
        out = _elu_values(x, alpha)
        ctx.save_for_backward(out)
        ctx.alpha = alpha
        return out

    @staticmethod
    def backward(ctx, grad_out):
        (out,) = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: a gradient autograd can differentiate again
            return torch.where(out > 0, grad_out, grad_out * (out + ctx.alpha)), None
        return torch.ops.aten.elu_backward(grad_out, ctx.alpha, 1, 1, True, out), None


def elu(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    r"""ELU, as :func:`torch.nn.functional.elu`, differentiable (twice too).

    Parameters
    ----------
    x : torch.Tensor, shape = (...)
    alpha : float, default=1.0
        :math:`\alpha`: the negative side tends to :math:`-\alpha`.

    Returns
    -------
    torch.Tensor, shape = (...)
        A new tensor (never ``x`` itself).
    """
    if not _through_kernel(x, alpha):
        return torch.nn.functional.elu(x, alpha)
    return _ELU.apply(x, float(alpha))
