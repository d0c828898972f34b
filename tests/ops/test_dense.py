"""Dense products through oneDNN: equal to torch's products and gradients, and routed as documented."""

import pytest
import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils._python_dispatch import TorchDispatchMode

from topodist.ops import dense

ONEDNN_OP = "mkldnn::_linear_pointwise"
needs_onednn = pytest.mark.skipif(not dense.onednn_available(), reason="this torch build has no oneDNN")


def above_threshold(rows: int, in_channels: int, out_channels: int) -> bool:
    return rows * in_channels * out_channels >= dense.MIN_MULTIPLY_ADDS


def test_the_cases_here_sit_on_the_intended_sides_of_the_threshold():
    assert above_threshold(9000, 32, 32) and above_threshold(3 * 4000, 24, 48) and above_threshold(12000, 32, 40)
    assert not above_threshold(40, 32, 48)


def ops_run(function) -> set[str]:
    """Names of the operators ``function()`` ran, forward and backward."""
    with profile(activities=[ProfilerActivity.CPU]) as recorded:
        function()
    return {event.key for event in recorded.key_averages()}


def forward_and_backward(product, x, weight, bias=None):
    x = x.detach().requires_grad_()
    weight = weight.detach().requires_grad_()
    inputs = [x, weight]
    if bias is not None:
        bias = bias.detach().requires_grad_()
        inputs.append(bias)
    y = product(x, weight) if bias is None else product(x, weight, bias)
    # a gradient that is not all ones, so that a transposed or misplaced gradient shows
    (y * torch.linspace(-1.0, 2.0, y.numel(), dtype=y.dtype).view_as(y)).sum().backward()
    return (y.detach(), *(tensor.grad for tensor in inputs))


@pytest.mark.parametrize(
    "shape",
    [(9000, 32), (3, 4000, 24), (0, 32), (40, 32)],
    ids=["cells", "batched", "empty part", "below the threshold"],
)
def test_matmul_equals_the_float64_product_and_its_gradients(shape):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=generator)
    weight = torch.randn(shape[-1], 48, generator=generator)
    ours = forward_and_backward(dense.matmul, x, weight)
    exact = forward_and_backward(torch.matmul, x.double(), weight.double())
    assert ours[0].shape == (*shape[:-1], 48)
    for got, expected in zip(ours, exact):
        assert got.dtype == torch.float32
        torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-4)


def test_linear_with_bias_on_non_contiguous_features_equals_torch_linear():
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(32, 12000, generator=generator).T  # (12000, 32), columns contiguous
    weight = torch.randn(40, 32, generator=generator)
    bias = torch.randn(40, generator=generator)
    ours = forward_and_backward(dense.linear, x, weight, bias)
    exact = forward_and_backward(torch.nn.functional.linear, x.double(), weight.double(), bias.double())
    for got, expected in zip(ours, exact):
        torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-4)


@needs_onednn
def test_large_float32_products_run_on_onednn_forward_and_backward():
    x = torch.randn(dense.MIN_WEIGHT_GRADIENT_ROWS + 600, 32, requires_grad=True)
    weight = torch.randn(32, 32, requires_grad=True)
    ran = ops_run(lambda: dense.matmul(x, weight).sum().backward())
    assert ONEDNN_OP in ran
    assert "aten::convolution_backward" in ran and "aten::mm" not in ran  # the weight's gradient


@needs_onednn
def test_the_backward_copies_an_expanded_gradient_once():
    """The gradient of ``y.sum()`` is one value expanded: both products need it in rows, and share one copy."""
    x = torch.randn(dense.MIN_WEIGHT_GRADIENT_ROWS + 600, 32, requires_grad=True)
    weight = torch.randn(32, 32, requires_grad=True)
    y = dense.matmul(x, weight)
    copies = []

    class CopyCount(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func in (torch.ops.aten.clone.default, torch.ops.aten.copy_.default) and args[0].numel() == y.numel():
                copies.append(func)
            return func(*args, **(kwargs or {}))

    with CopyCount():
        y.sum().backward()
    assert len(copies) == 1
    torch.testing.assert_close(weight.grad, x.detach().T @ torch.ones_like(x), rtol=1e-5, atol=1e-3)


@needs_onednn
@pytest.mark.parametrize("in_channels, out_channels", [(8, 64), (64, 8), (32, 32)])
def test_the_wider_operand_is_the_convolutions_output_gradient(in_channels, out_channels):
    """oneDNN runs the narrow-by-wide product several times slower the other way round (BENCHMARKS.md)."""
    x, grad = torch.randn(20000, in_channels), torch.randn(20000, out_channels)
    seen = []

    class ConvolutionOperands(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func is torch.ops.aten.convolution_backward.default:
                seen.append((args[0].shape[1], args[1].shape[1]))  # channels of the output gradient, the input
            return func(*args, **(kwargs or {}))

    with ConvolutionOperands():
        got = dense.rows_inner(x, grad)
    assert seen == [(max(in_channels, out_channels), min(in_channels, out_channels))]
    assert got.shape == (in_channels, out_channels) and got.is_contiguous()
    torch.testing.assert_close(got.double(), x.double().T @ grad.double(), rtol=1e-5, atol=1e-3)


@needs_onednn
def test_the_weight_gradient_runs_on_onednn_convolution():
    """torch picks the convolution's backend from its operands: these views must be what oneDNN takes."""
    n_images, height, channels = 17, dense.CELLS_PER_IMAGE, 32
    images = torch.randn(n_images * height, channels).view(n_images, height, 1, channels).permute(0, 3, 1, 2)
    kernel = torch.empty(channels, channels, 1, 1)
    backend = torch._C._select_conv_backend(images, kernel, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1, None)
    assert backend == torch._C._ConvBackend.Mkldnn


@pytest.mark.parametrize(
    "rows, in_channels, out_channels, product",
    [
        (dense.MIN_WEIGHT_GRADIENT_ROWS + 600, 32, 32, dense.rows_inner),
        (32 * dense.CELLS_PER_IMAGE, 64, 64, dense.rows_inner),
        (20000, 64, 8, dense.rows_inner),
        (20000, 8, 64, dense.rows_inner),
        (300, 256, 128, dense._onednn_rows_inner),  # below the rows rows_inner sends there
    ],
    ids=["images and a remainder", "whole images", "narrow output", "narrow input", "fewer rows than an image"],
)
@pytest.mark.parametrize("grad_kind", ["contiguous", "expanded", "batched"])
def test_rows_inner_equals_the_float64_product(rows, in_channels, out_channels, product, grad_kind):
    assert above_threshold(rows, in_channels, out_channels)
    assert (rows >= dense.MIN_WEIGHT_GRADIENT_ROWS) == (product is dense.rows_inner)
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(rows, in_channels, generator=generator)
    grad = torch.randn(rows, out_channels, generator=generator)
    if grad_kind == "expanded":  # the gradient of a sum: one value, stride 0
        grad = torch.full((), 0.75).expand(rows, out_channels)
    if grad_kind == "batched" and rows % 4 == 0:
        x, grad = x.view(4, rows // 4, in_channels), grad.view(4, rows // 4, out_channels)
    if product is dense._onednn_rows_inner:  # 2-D and contiguous, as rows_inner hands them over
        x, grad = x.reshape(-1, in_channels), grad.reshape(-1, out_channels).contiguous()
    got = product(x, grad)
    x, grad = x.reshape(-1, in_channels).double(), grad.reshape(-1, out_channels).double()
    assert got.shape == (in_channels, out_channels) and got.dtype == torch.float32
    # float32 sums of thousands of terms: each entry within 1e-6 of the sum of its terms' magnitudes (the
    # worst case of a sequential float32 sum of 20,000 terms is 1e-3 of it)
    assert ((got.double() - x.T @ grad).abs() <= 1e-6 * (x.abs().T @ grad.abs())).all()


@needs_onednn
@pytest.mark.parametrize(
    "case", ["float64", "below the threshold", "autocast", "environment", "oneDNN turned off", "few rows"],
)
def test_other_products_stay_with_torch(case, monkeypatch):
    dtype = torch.float64 if case == "float64" else torch.float32
    rows = {"below the threshold": 40, "few rows": 9000}.get(case, dense.MIN_WEIGHT_GRADIENT_ROWS)
    x = torch.randn(rows, 32, dtype=dtype)
    weight = torch.randn(32, 32, dtype=dtype)
    if case == "environment":
        monkeypatch.setenv(dense.DENSE_PRODUCT_ENV_VAR, "torch")
    if case == "autocast":
        with torch.autocast("cpu", dtype=torch.bfloat16):
            ran = ops_run(lambda: dense.matmul(x, weight))
            assert dense.matmul(x, weight).dtype == torch.bfloat16  # torch's casting rule holds
            ran_weight_gradient = ops_run(lambda: dense.rows_inner(x, x))
    elif case in ("oneDNN turned off", "few rows"):  # the weight's gradient alone: the forward goes to oneDNN
        if case == "oneDNN turned off":  # the forward's linear is oneDNN's own call; the convolution follows
            monkeypatch.setattr(torch.backends.mkldnn, "enabled", False)  # flags() would warn of Intel GPUs
            assert not torch.backends.mkldnn.enabled
        else:
            assert above_threshold(rows, 32, 32) and rows < dense.MIN_WEIGHT_GRADIENT_ROWS
        ran_weight_gradient = ops_run(lambda: dense.rows_inner(x, x))
        ran = set()
    else:
        ran = ops_run(lambda: dense.matmul(x, weight))
        ran_weight_gradient = ops_run(lambda: dense.rows_inner(x, x))
    assert ONEDNN_OP not in ran
    assert "aten::convolution_backward" not in ran_weight_gradient


def test_an_unknown_backend_in_the_environment_is_named(monkeypatch):
    monkeypatch.setenv(dense.DENSE_PRODUCT_ENV_VAR, "mkl")
    with pytest.raises(ValueError, match="TOPODIST_DENSE_PRODUCT='mkl'.*'onednn' or 'torch'"):
        dense.matmul(torch.randn(9000, 32), torch.randn(32, 32))


def test_linear_module_loads_a_torch_linear_state_dict_and_gives_its_outputs():
    torch.manual_seed(0)
    reference = torch.nn.Linear(32, 16)
    ours = dense.Linear(32, 16)
    ours.load_state_dict(reference.state_dict())
    assert list(ours.state_dict()) == ["weight", "bias"]
    x = torch.randn(12000, 32)
    torch.testing.assert_close(ours(x), reference(x), rtol=1e-5, atol=1e-5)
