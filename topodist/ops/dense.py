"""Dense products of cell features by a weight matrix, through oneDNN on the CPU.

Message passing multiplies tall, narrow feature matrices by small weights:
``(n_cells, C) @ (C, C')`` with ``n_cells`` in the tens of thousands to
millions and ``C`` in the tens. torch runs float32 products on the CPU with
MKL's sgemm; on the AMD CPU of BENCHMARKS.md MKL runs them at 55 GFLOP/s on
one thread (``(166464, 32) @ (32, 32)``) and 155 on two (``(40000, 64) @
(64, 64)``), and oneDNN's matmul, which torch also ships, 2.1-2.6x faster on
those shapes and 1.3-3.8x on others ("Dense products" in BENCHMARKS.md; it
picks its kernels by instruction set, not by vendor). On an Intel Xeon MKL
ran the 32-channel products and their input's gradient alone 26-50% faster
than oneDNN, yet oneDNN stayed ahead in three of four zoo steps and in the
1M-cell one there ("On an Intel host" in BENCHMARKS.md), so the routing does
not depend on the vendor. The functions here send such products to oneDNN's
linear primitive (``torch.ops.mkldnn._linear_pointwise``, the one torch's
compiler uses for CPU linears) and everything else to torch:

- other devices and dtypes (float64, bfloat16 and half), and products under
  CPU autocast, which keep torch's casting rules;
- products below :data:`MIN_MULTIPLY_ADDS` multiply-adds, where oneDNN's
  forward and backward together gain nothing (``(1600, 64) @ (64, 64)``,
  6.5M, 0.99x; ``(3200, 64) @ (64, 64)`` 1.22x faster);
- builds of torch without oneDNN, and ``TOPODIST_DENSE_PRODUCT=torch`` in the
  environment (read at every call), which turns the oneDNN path off.

The weight's gradient, ``x^T @ grad``, a reduction over the cells, goes to
oneDNN's convolution backward-weights primitive (``aten.convolution_backward``
on ``channels_last`` views of the two matrices): the cells are the pixels of a
batch of one-pixel-wide images and the weight a ``1 x 1`` kernel, so neither
operand is copied. oneDNN's linear offers this product only through transposed
copies, which cost more than they save. On the CPU of BENCHMARKS.md, with
its operands out of cache, it takes 3-30% less time than MKL on 32 and 64
channels (40,000-500,000 rows, two runs), about a quarter of MKL's time on a
narrow output (``64 x 8``) and up to 11% more on a narrow input (``8 x
64``); same routing rules as the forward, from :data:`MIN_WEIGHT_GRADIENT_ROWS`
rows.

Results equal torch's within float32 rounding (the sums run in another
order), and the gradients are those of ``x @ weight``.
"""

import os

import torch
from torch.autograd.function import once_differentiable

__all__ = [
    "CELLS_PER_IMAGE", "DENSE_PRODUCT_ENV_VAR", "MIN_MULTIPLY_ADDS", "MIN_WEIGHT_GRADIENT_ROWS", "Linear", "linear",
    "matmul", "onednn_available", "rows_inner",
]

DENSE_PRODUCT_ENV_VAR = "TOPODIST_DENSE_PRODUCT"
MIN_MULTIPLY_ADDS = 1 << 23


def onednn_available() -> bool:
    """Whether this build of torch has oneDNN's linear primitive for CPU tensors, with the signature used here.

    The primitive is private to torch: a build without it, or one whose
    signature or result differs, leaves every product with torch.
    """
    if not torch.backends.mkldnn.is_available():
        return False
    try:
        probe = torch.ops.mkldnn._linear_pointwise(torch.ones(2, 3), torch.ones(4, 3), None, "none", [], "")
    except (AttributeError, RuntimeError, TypeError):
        return False
    return probe.shape == (2, 4) and bool((probe == 3).all())


_ONEDNN = onednn_available()


def _through_onednn(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether ``x @ weight.T`` (``weight`` of shape ``(out, in)``) goes to oneDNN."""
    return _onednn_serves(x, weight) and weight.dim() == 2 and x.numel() * weight.shape[0] >= MIN_MULTIPLY_ADDS


def _onednn_serves(x: torch.Tensor, other: torch.Tensor) -> bool:
    """Whether a product of float32 CPU tensors ``x`` and ``other`` may go to oneDNN (size aside)."""
    backend = os.environ.get(DENSE_PRODUCT_ENV_VAR, "onednn")
    if backend not in ("onednn", "torch"):
        raise ValueError(f"{DENSE_PRODUCT_ENV_VAR}={backend!r} is not a dense product backend; use 'onednn' or 'torch'")
    return (
        _ONEDNN
        and backend == "onednn"
        and x.device.type == other.device.type == "cpu"
        and x.dtype == other.dtype == torch.float32
        and x.dim() >= 2
        and not torch.is_autocast_enabled("cpu")
    )


def _onednn_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``x @ weight.T + bias`` through oneDNN, without a graph (:func:`linear` chose this path)."""
    rows = x.reshape(-1, x.shape[-1]).contiguous()
    y = torch.ops.mkldnn._linear_pointwise(rows, weight.contiguous(), bias, "none", [], "")
    return y.view(*x.shape[:-1], weight.shape[0])


# Rows below which the weight's gradient stays with torch whatever its multiply-adds: in CWN's step (64 x 64
# weights) oneDNN's convolution took 0.06-0.09 ms more than MKL per gradient at 3,200-10,000 rows, 0.07 ms
# less at 20,000 and 0.2-1.2 ms less at 30,000-120,000 ("Dense products" in BENCHMARKS.md).
MIN_WEIGHT_GRADIENT_ROWS = 1 << 14
# Cells per one-pixel-wide image in the weight's gradient through oneDNN: 512 was the fastest or within 5% of
# it for 40,000-1,000,000 rows of 32 or 64 channels, on one and two threads, operands out of cache (256 to 4096
# tried; "Dense products" in BENCHMARKS.md).
CELLS_PER_IMAGE = 512


def rows_inner(x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """``x^T grad`` summed over the rows and leading dimensions: the gradient of ``W`` in ``x W``.

    Through oneDNN's convolution backward-weights on the routing rules of
    :func:`linear` from :data:`MIN_WEIGHT_GRADIENT_ROWS` rows, with torch
    otherwise.

    Parameters
    ----------
    x : torch.Tensor, shape = (..., n_cells, in_channels)
    grad : torch.Tensor, shape = (..., n_cells, out_channels)

    Returns
    -------
    torch.Tensor, shape = (in_channels, out_channels)
    """
    x, grad = x.reshape(-1, x.shape[-1]), grad.reshape(-1, grad.shape[-1])
    # with oneDNN's convolutions turned off (torch.backends.mkldnn.flags) torch would pick another backend
    if not (
        _onednn_serves(x, grad)
        and torch.backends.mkldnn.enabled
        and x.shape[0] >= MIN_WEIGHT_GRADIENT_ROWS
        and x.numel() * grad.shape[1] >= MIN_MULTIPLY_ADDS
    ):
        return x.T @ grad
    # oneDNN wants the wider operand as the convolution's output gradient: (40000, 8)^T (40000, 64) out of cache
    # took 3.35 ms the other way round, 0.65 ms this way (MKL: 0.76)
    if x.shape[1] < grad.shape[1]:
        return _onednn_rows_inner(grad.contiguous(), x.contiguous()).T.contiguous()
    return _onednn_rows_inner(x.contiguous(), grad.contiguous())


def _onednn_rows_inner(x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """``x^T grad`` for contiguous 2-D float32 CPU matrices, as the weight's gradient of a ``1 x 1`` convolution.

    The first rows are ``n_images`` images of ``CELLS_PER_IMAGE x 1`` pixels
    (one image of all rows when there are fewer), channels last: each row a
    pixel, read in place. ``x`` plays the convolution's output gradient and
    ``grad`` its input, so the kernel's gradient is ``x^T grad``. The last
    rows, fewer than an image, are added by torch.
    """
    (n_cells, in_channels), out_channels = x.shape, grad.shape[1]
    height = min(CELLS_PER_IMAGE, n_cells)
    n_images = n_cells // height
    imaged = n_images * height

    def images(rows: torch.Tensor) -> torch.Tensor:  # (n_images, channels, height, 1), channels_last
        return rows[:imaged].view(n_images, height, 1, rows.shape[1]).permute(0, 3, 1, 2)

    kernel = x.new_empty(in_channels, out_channels, 1, 1)  # read for its shape only
    _, product, _ = torch.ops.aten.convolution_backward(
        images(x), images(grad), kernel, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1, [False, True, False]
    )
    product = product.view(in_channels, out_channels)
    if imaged < n_cells:
        product.addmm_(x[imaged:].T, grad[imaged:])
    return product


class _Linear(torch.autograd.Function):
    """``x @ weight.T + bias``; input and weight gradients through oneDNN (:func:`rows_inner`)."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return _onednn_linear(x, weight, bias)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y):
        x, weight = ctx.saved_tensors
        # both products read the gradient in rows: copy it once (the gradient of a sum is one expanded value)
        grad_y = grad_y.contiguous()
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = _onednn_linear(grad_y, weight.T, None)  # the forward's multiply-adds, dtype and device
        if ctx.needs_input_grad[1]:
            grad_weight = rows_inner(grad_y, x)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad_y.reshape(-1, grad_y.shape[-1]).sum(0)
        return grad_x, grad_weight, grad_bias


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``x @ weight.T + bias``, as :func:`torch.nn.functional.linear`, differentiable.

    Parameters
    ----------
    x : torch.Tensor, shape = (..., n_cells, in_channels)
        Features.
    weight : torch.Tensor, shape = (out_channels, in_channels)
        Weight, as :class:`torch.nn.Linear` stores it.
    bias : torch.Tensor, shape = (out_channels,), optional
        Bias.

    Returns
    -------
    torch.Tensor, shape = (..., n_cells, out_channels)
        The product plus the bias.
    """
    if not _through_onednn(x, weight):
        return torch.nn.functional.linear(x, weight, bias)
    return _Linear.apply(x, weight, bias)


def matmul(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``x @ weight``, differentiable, for a weight stored ``(in_channels, out_channels)`` as ``Conv`` stores it.

    Parameters
    ----------
    x : torch.Tensor, shape = (..., n_cells, in_channels)
        Features.
    weight : torch.Tensor, shape = (in_channels, out_channels)
        Weight.

    Returns
    -------
    torch.Tensor, shape = (..., n_cells, out_channels)
        The product.
    """
    if weight.dim() != 2:
        return torch.matmul(x, weight)
    return linear(x, weight.T)


class Linear(torch.nn.Linear):
    """:class:`torch.nn.Linear` whose product goes through :func:`linear`: same parameters, same state_dict."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)
