"""The compiled ELU: values within 2 ulp of the exact ELU, special values, gradients, threads and fallbacks."""

import pytest
import torch

from topodist.ops import activations
from topodist.ops.activations import elu

pytestmark = pytest.mark.skipif(not activations._HAS_NUMBA, reason="the compiled kernel (numba) only")

FLOAT32_ULP = 2.0**-23  # relative spacing of float32 values at 1


def wide_range(n: int = 1 << 20) -> torch.Tensor:
    """Negative values from -1e-30 to -1e3 (every binade the kernel reduces), positives, shuffled."""
    generator = torch.Generator().manual_seed(0)
    negative = -torch.logspace(-30, 3, n - n // 4, dtype=torch.float64)
    positive = torch.rand(n // 4, generator=generator, dtype=torch.float64) * 10
    values = torch.cat([negative, positive])
    return values[torch.randperm(n, generator=generator)].float()


@pytest.mark.parametrize("alpha", [1.0, 0.3, 2.5])
def test_values_are_within_two_ulp_of_the_exact_elu(alpha):
    x = wide_range()
    assert x.numel() >= activations.MIN_ELEMENTS
    ours = elu(x, alpha)
    exact = torch.nn.functional.elu(x.double(), alpha)
    relative = ((ours.double() - exact).abs() / exact.abs().clamp_min(1e-300)).max().item()
    assert relative <= 2 * FLOAT32_ULP
    positive = x > 0
    assert torch.equal(ours[positive], x[positive])  # the positive side is the input itself
    torch_relative = ((torch.nn.functional.elu(x, alpha).double() - exact).abs() / exact.abs()).max().item()
    assert torch_relative <= 2 * FLOAT32_ULP  # torch's own ELU is no closer here


def test_special_values_and_shapes():
    x = torch.zeros(3, activations.MIN_ELEMENTS)
    special = torch.tensor([float("nan"), float("inf"), -float("inf"), 0.0, -0.0, -1e-45, 1e-45, -31.0, -88.0])
    x[1, : len(special)] = special
    ours = elu(x)
    assert ours.shape == x.shape
    expected = torch.tensor([float("nan"), float("inf"), -1.0, 0.0, 0.0, -1e-45, 1e-45, -1.0, -1.0])
    assert torch.equal(ours[1, : len(special)].isnan(), expected.isnan())
    assert torch.equal(ours[1, 1 : len(special)], expected[1:])
    transposed = torch.randn(activations.MIN_ELEMENTS // 64, 64).T  # not contiguous
    assert torch.allclose(elu(transposed), torch.nn.functional.elu(transposed), rtol=2 * FLOAT32_ULP, atol=0)


def close(ours: torch.Tensor, reference: torch.Tensor, scale: torch.Tensor) -> bool:
    """Within 4 ulp of ``reference``, or one ulp of ``scale``.

    The gradient is formed from the output, ``alpha + elu(x)`` for ``x <= 0``, as torch's
    ``elu_backward(is_result=True)`` does: below ``x`` of about -17 the output is -alpha to
    float32 precision, and the gradient (``alpha e^x``) is 0 instead of a value under one ulp of ``scale``.
    """
    return bool(((ours - reference).abs() <= 4 * FLOAT32_ULP * reference.abs() + FLOAT32_ULP * scale).all())


def test_gradients_and_second_derivatives_equal_torch_s():
    x = wide_range().clamp(-40, 40).requires_grad_()
    x_torch = x.detach().clone().requires_grad_()
    weight = torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    (grad,) = torch.autograd.grad((elu(x) * weight).sum(), x, create_graph=True)
    (grad_torch,) = torch.autograd.grad((torch.nn.functional.elu(x_torch) * weight).sum(), x_torch, create_graph=True)
    assert close(grad, grad_torch, weight.abs())
    (second,) = torch.autograd.grad(grad.sum(), x)
    (second_torch,) = torch.autograd.grad(grad_torch.sum(), x_torch)
    assert close(second, second_torch, weight.abs())
    # without create_graph: torch's elu_backward from the output
    (first_only,) = torch.autograd.grad((elu(x) * weight).sum(), x)
    assert close(first_only, grad_torch.detach(), weight.abs())


def test_threaded_blocks_equal_one_thread(monkeypatch):
    x = torch.randn(activations.MIN_ELEMENTS + 12345)
    single = elu(x)
    blocks = []
    run = activations.run_in_blocks
    monkeypatch.setattr(activations, "run_in_blocks", lambda kernel, arguments, bounds: blocks.append(len(bounds) - 1)
                        or run(kernel, arguments, bounds))
    monkeypatch.setattr(activations, "MIN_ELEMENTS_PER_THREAD", 1)
    threads = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        blocked = elu(x)
    finally:
        torch.set_num_threads(threads)
    assert blocks == [3]
    assert torch.equal(blocked, single)


@pytest.mark.parametrize(
    ("x", "alpha"),
    [
        (torch.randn(activations.MIN_ELEMENTS, dtype=torch.float64), 1.0),  # float64
        (torch.randn(activations.MIN_ELEMENTS - 1), 1.0),  # small
        (torch.randn(activations.MIN_ELEMENTS), -0.5),  # negative alpha
        (torch.randn(activations.MIN_ELEMENTS).bfloat16(), 1.0),
    ],
    ids=["float64", "small", "negative-alpha", "bfloat16"],
)
def test_what_the_kernel_does_not_serve_is_torch_s_elu(x, alpha, monkeypatch):
    monkeypatch.setattr(activations, "_ELU", None)  # the kernel's path would fail
    assert torch.equal(elu(x, alpha), torch.nn.functional.elu(x, alpha))
