"""Scatter reductions against explicit loops, on both backends."""

import pytest
import torch

from tests.reference import TOLERANCE, random_neighborhood, relative_error
from topodist.ops import scatter as scatter_module
from topodist.ops.scatter import resolve_backend, scatter, scatter_softmax

REDUCTIONS = ["sum", "add", "mean", "max", "min"]


def loop_reference(src: torch.Tensor, index: torch.Tensor, dim_size: int, reduce: str):
    """Reduce along dim -2 one output row at a time; empty rows are zero."""
    rows = []
    for i in range(dim_size):
        selected = src[..., index == i, :]
        if selected.shape[-2] == 0:
            rows.append(torch.zeros_like(src[..., 0, :]))
        elif reduce in ("sum", "add"):
            rows.append(selected.sum(dim=-2))
        elif reduce == "mean":
            rows.append(selected.mean(dim=-2))
        elif reduce == "max":
            rows.append(selected.amax(dim=-2))
        else:
            rows.append(selected.amin(dim=-2))
    return torch.stack(rows, dim=-2)


@pytest.mark.parametrize("reduce", REDUCTIONS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_scatter_matches_loop_with_batch_dims_and_empty_rows(scatter_backend, reduce, dtype):
    generator = torch.Generator().manual_seed(1)
    src = torch.randn(2, 3, 40, 5, generator=generator, dtype=dtype)
    index = torch.randint(0, 9, (40,), generator=generator)
    index[index == 4] = 5  # output 4 and outputs 9..11 receive nothing
    out = scatter(src, index, dim=-2, dim_size=12, reduce=reduce)
    expected = loop_reference(src, index, 12, reduce)
    assert out.shape == (2, 3, 12, 5)
    assert relative_error(out, expected) <= TOLERANCE[dtype]
    assert torch.all(out[..., 4, :] == 0) and torch.all(out[..., 9:, :] == 0)


def test_scatter_default_size_and_dim(scatter_backend):
    src = torch.arange(8.0).view(4, 2)
    out = scatter(src, torch.tensor([0, 2, 2, 0]))
    assert torch.equal(out, torch.tensor([[6.0, 8.0], [0.0, 0.0], [6.0, 8.0]]))
    empty = scatter(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))
    assert empty.shape == (0, 3)


@pytest.mark.parametrize("reduce", REDUCTIONS)
def test_backends_agree_in_value_and_gradient(torch_scatter, reduce):
    generator = torch.Generator().manual_seed(2)
    src = torch.randn(3, 50, 4, generator=generator, dtype=torch.float64)
    index = torch.randint(0, 20, (50,), generator=generator)
    results = {}
    for backend in ("native", "torch_scatter"):
        leaf = src.clone().requires_grad_()
        out = scatter(leaf, index, dim=1, dim_size=23, reduce=reduce, backend=backend)
        (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
        results[backend] = (out.detach(), leaf.grad)
    assert relative_error(results["native"][0], results["torch_scatter"][0]) <= 1e-12
    assert relative_error(results["native"][1], results["torch_scatter"][1]) <= 1e-12


def test_backend_selection_order(monkeypatch, torch_scatter):
    monkeypatch.delenv(scatter_module.BACKEND_ENV_VAR, raising=False)
    assert resolve_backend() == "torch_scatter"
    monkeypatch.setenv(scatter_module.BACKEND_ENV_VAR, "native")
    assert resolve_backend() == "native"
    assert resolve_backend("torch_scatter") == "torch_scatter"


def test_native_is_the_fallback_without_torch_scatter(monkeypatch):
    monkeypatch.setattr(scatter_module, "_HAS_TORCH_SCATTER", False)
    monkeypatch.delenv(scatter_module.BACKEND_ENV_VAR, raising=False)
    assert resolve_backend() == "native"
    with pytest.raises(ImportError, match="torch_scatter is not installed"):
        resolve_backend("torch_scatter")
    monkeypatch.setenv(scatter_module.BACKEND_ENV_VAR, "torch_scatter")
    with pytest.raises(ImportError, match="TOPODIST_SCATTER"):
        scatter(torch.ones(2, 1), torch.tensor([0, 1]))


def test_bad_arguments_are_named(monkeypatch):
    monkeypatch.setenv(scatter_module.BACKEND_ENV_VAR, "cuda_magic")
    with pytest.raises(ValueError, match="TOPODIST_SCATTER='cuda_magic'"):
        resolve_backend()
    with pytest.raises(ValueError, match="backend='numpy'"):
        resolve_backend("numpy")
    monkeypatch.delenv(scatter_module.BACKEND_ENV_VAR)
    with pytest.raises(ValueError, match="reduce='prod'"):
        scatter(torch.ones(2, 1), torch.tensor([0, 1]), reduce="prod")
    with pytest.raises(ValueError, match="index must be 1-D"):
        scatter(torch.ones(3, 1), torch.tensor([0, 1]))


def test_scatter_softmax_equals_torch_sparse_softmax_in_value_and_gradient(scatter_backend):
    neighborhood = random_neighborhood(7, 9, seed=4, empty_rows=(2,), dtype=torch.float64).coalesce()
    target, _ = neighborhood.indices()
    generator = torch.Generator().manual_seed(0)
    scores = torch.randn(neighborhood._nnz(), dtype=torch.float64, generator=generator).requires_grad_()
    weights = torch.randn(neighborhood._nnz(), dtype=torch.float64, generator=generator)
    expected_matrix = torch.sparse.softmax(torch.sparse_coo_tensor(neighborhood.indices(), scores, neighborhood.shape, check_invariants=True), dim=1)
    expected = expected_matrix.coalesce().values()
    (expected_grad,) = torch.autograd.grad((expected * weights).sum(), scores)
    got = scatter_softmax(scores, target, dim_size=7)
    (grad,) = torch.autograd.grad((got * weights).sum(), scores)
    assert relative_error(got, expected) <= 1e-12
    assert relative_error(grad, expected_grad) <= 1e-12
    # scores shifted by 1000 would overflow exp: the group maximum is subtracted first
    assert relative_error(scatter_softmax(scores.detach() + 1000, target, dim_size=7), expected) <= 1e-12
    assert torch.allclose(scatter(got.unsqueeze(-1), target, dim_size=7).squeeze(-1)[[0, 1, 3, 4, 5, 6]], torch.ones(6, dtype=torch.float64))
