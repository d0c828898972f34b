"""Reference inputs and comparisons shared by the tests."""

import contextlib
import gc

import torch


def random_neighborhood(
    n_target: int,
    n_source: int,
    density: float = 0.3,
    seed: int = 0,
    empty_rows: tuple[int, ...] = (),
    positive: bool = False,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """A random sparse COO neighborhood with the given rows left empty.

    Every row not in ``empty_rows`` has at least one entry.
    """
    generator = torch.Generator().manual_seed(seed)
    mask = torch.rand(n_target, n_source, generator=generator) < density
    mask[torch.arange(n_target), torch.randint(n_source, (n_target,), generator=generator)] = True
    mask[list(empty_rows)] = False
    values = torch.randn(n_target, n_source, generator=generator, dtype=dtype)
    if positive:
        values = values.abs() + 0.1
    return (values * mask).to_sparse()


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """Largest absolute difference divided by the largest expected magnitude."""
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    actual, expected = actual.detach(), expected.detach()
    if not expected.numel():
        return 0.0
    scale = expected.abs().max().clamp(min=torch.finfo(expected.dtype).tiny)
    return float((actual - expected).abs().max() / scale)


TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}


def dense_attention(
    x_source: torch.Tensor, x_target: torch.Tensor, att_weight: torch.Tensor
) -> torch.Tensor:
    """ELU([x_j || x_i] . a) for every (target i, source j) pair: shape (..., n_t, n_s)."""
    channels = x_source.shape[-1]
    source_part = x_source @ att_weight[:channels]
    target_part = x_target @ att_weight[channels:]
    return torch.nn.functional.elu(target_part.unsqueeze(-1) + source_part.unsqueeze(-2))


def dense_propagate(
    weights: torch.Tensor, x: torch.Tensor, stored: torch.Tensor, reduce: str
) -> torch.Tensor:
    """Sum (or mean over stored entries) of weights[i, j] * x[j] for every target i."""
    out = weights @ x
    if reduce == "mean":
        count = stored.sum(dim=-1).clamp(min=1).to(x.dtype)
        out = out / count.unsqueeze(-1)
    return out


def gradients(output: torch.Tensor, tensors: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """Gradients of a fixed, non-uniform linear functional of ``output``."""
    probe = torch.linspace(-1.0, 2.0, output.numel(), dtype=output.dtype).view_as(output)
    return torch.autograd.grad((output * probe).sum(), tensors)


@contextlib.contextmanager
def reference_counting_only():
    """Run a block with the garbage collector off: what it frees, reference counting alone freed.

    The collector counts Python objects, not (GPU) memory: memory that waits for
    it, in a reference cycle, can stay allocated long after its last use.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
