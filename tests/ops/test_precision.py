"""Half-precision features aggregate in float32: sums of many messages keep their small terms.

Ones summed in bfloat16 stop growing at 256 (256 + 1 rounds to 256) and in
float16 at 2048; 4096 ones must sum to 4096 in both, forward and backward.
"""

import pytest
import torch

from topodist.ops import csr_kernel
from topodist.ops.neighborhood import neighborhood_index, propagate
from topodist.ops.polynomial import HarmonicProjection, neighborhood_powers
from topodist.ops.precision import accumulation_dtype
from topodist.ops.scatter import scatter
from topodist.ops.spmm import SparseRows, sparse_rows_matmul

MANY = 4096
LOW_PRECISION = [torch.bfloat16, torch.float16]


def ones_rows(n_rows: int, n_columns: int) -> SparseRows:
    neighborhood = torch.ones(n_rows, n_columns).to_sparse()
    row, col = neighborhood.indices()
    return SparseRows.from_coo(row, col, neighborhood.values(), neighborhood.shape)


def test_the_sums_below_would_fail_in_half_precision():
    for dtype, stall in ((torch.bfloat16, 256), (torch.float16, 2048)):
        total = torch.zeros((), dtype=dtype)
        for _ in range(MANY):
            total = total + torch.ones((), dtype=dtype)
        assert total == stall


@pytest.mark.parametrize("dtype", LOW_PRECISION)
def test_accumulation_dtype(dtype):
    assert accumulation_dtype(dtype) == torch.float32
    assert accumulation_dtype(torch.float64) == torch.float64


@pytest.mark.parametrize("kernel", [True, False], ids=["kernel", "torch_csr"])
@pytest.mark.parametrize("dtype", LOW_PRECISION)
def test_csr_product_sums_in_float32_forward_and_backward(monkeypatch, kernel, dtype):
    if not kernel:
        monkeypatch.setattr(csr_kernel, "available", lambda x: False)
    wide = sparse_rows_matmul(ones_rows(2, MANY), torch.ones(MANY, 3, dtype=dtype))
    assert wide.dtype == dtype
    assert torch.all(wide == MANY)

    x = torch.ones(2, 3, dtype=dtype, requires_grad=True)
    tall = sparse_rows_matmul(ones_rows(MANY, 2), x)  # every column holds MANY entries
    tall.sum().backward()
    assert tall.dtype == x.grad.dtype == dtype
    assert torch.all(x.grad == MANY)


@pytest.mark.parametrize("reduce, expected", [("sum", MANY), ("mean", 1)])
@pytest.mark.parametrize("dtype", LOW_PRECISION)
def test_scatter_sums_in_float32(scatter_backend, dtype, reduce, expected):
    src = torch.ones(MANY, 3, dtype=dtype, requires_grad=True)
    out = scatter(src, torch.zeros(MANY, dtype=torch.int64), dim=-2, dim_size=2, reduce=reduce)
    assert out.dtype == dtype
    assert torch.all(out[0] == expected) and torch.all(out[1] == 0)
    out[0].sum().backward()
    assert src.grad.dtype == dtype


@pytest.mark.parametrize("dtype", LOW_PRECISION)
def test_weighted_messages_sum_in_float32(scatter_backend, dtype):
    index = neighborhood_index(torch.ones(2, MANY).to_sparse())
    weights = index.values * 1.0  # other values than the neighborhood's own: gather + scatter
    out = propagate(index, torch.ones(MANY, 3, dtype=dtype), weights)
    assert torch.all(out == MANY)


@pytest.mark.parametrize("dtype", LOW_PRECISION)
def test_polynomial_filters_sum_in_float32(dtype):
    # a float32 torch sparse neighborhood, as the data gives it, on half-precision features (autocast's output)
    wide = torch.ones(2, MANY).to_sparse()
    powers = neighborhood_powers(wide, torch.ones(MANY, 3, dtype=dtype), order=1)
    assert powers.dtype == dtype and torch.all(powers == MANY)

    row = torch.zeros(MANY, MANY).index_fill_(0, torch.tensor([0]), 1.0).to_sparse()  # row 0 holds MANY ones
    projected = HarmonicProjection(row, epsilon=1.0, order=1) @ torch.ones(MANY, 3, dtype=dtype)
    assert projected.dtype == dtype
    assert torch.all(projected[0] == torch.tensor(1.0 - MANY).to(dtype)) and torch.all(projected[1:] == 1)


def test_polynomial_filters_under_autocast_sum_in_float32():
    # autocast runs torch's sparse product in bfloat16 even on float32 features: 4,096 ones gave 256
    wide = torch.ones(2, MANY).to_sparse()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        powers = neighborhood_powers(wide, torch.ones(MANY, 3), order=1)
    assert torch.all(powers == MANY)
