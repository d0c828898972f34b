"""Overlapped products with a weight, ``N @ (x W)``: the halo of x travels once, gradients equal the whole's."""

import pytest
import torch
import torch.distributed as dist
from torch.profiler import ProfilerActivity, profile

from tests.distributed.harness import run_on_ranks
from tests.reference import relative_error
from topodist.data.datasets import torus_mesh
from topodist.distributed import PartitionedComplex
from topodist.distributed.overlap import ColumnSplit
from topodist.partition import assign_cells, build_shards

NAMES = ["adjacency_1", "hodge_laplacian_1"]


def check_weighted_products(rank, world_size, batch, x_needs_grad):
    complex_ = torus_mesh(8, 5, seed=2)
    shard = build_shards(complex_, assign_cells(complex_, world_size, "random", seed=1), NAMES, world_size)[rank]
    rows = torch.from_numpy(shard.owned_cells[1])
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(*batch, complex_.n_cells[1], 3, generator=generator, dtype=torch.float64)
    weights = [torch.randn(3, 4, generator=generator, dtype=torch.float64),
               torch.randn(3, 2, generator=generator, dtype=torch.float64)]
    readout = [torch.randn(*batch, complex_.n_cells[1], w.shape[1], generator=generator, dtype=torch.float64)
               for w in weights]
    whole = [complex_.neighborhood(name, dtype=torch.float64) for name in NAMES]

    def run(products, x, rows=slice(None)):
        x = x.clone().requires_grad_() if x_needs_grad else x  # the same tensor every step, as input features are
        ws = [w.clone().requires_grad_() for w in weights]
        outputs = [product(x, w) for product, w in zip(products, ws, strict=True)]
        sum((out * r[..., rows, :]).sum() for out, r in zip(outputs, readout, strict=True)).backward()
        return outputs, x.grad, [w.grad for w in ws]

    def whole_product(n, x, w):
        flat = x.reshape(-1, *x.shape[-2:])
        return torch.stack([n @ (features @ w) for features in flat]).reshape(*x.shape[:-1], w.shape[1])

    expected, expected_x_grad, expected_w_grads = run([lambda x, w, n=n: whole_product(n, x, w) for n in whole], x)

    partitioned = PartitionedComplex(shard, dtype=torch.float64)
    parts = [partitioned.neighborhood(name) for name in NAMES]
    x_owned = x[..., rows, :]
    for step in range(2):  # the same features twice: the second step must not run the first's graph again
        got, x_grad, w_grads = run([lambda x, w, n=n: n.matmul(x, w) for n in parts], x_owned, rows)
        for out, want in zip(got, expected, strict=True):
            assert relative_error(out, want[..., rows, :]) <= 1e-12, f"step {step}"
        if x_needs_grad:
            assert relative_error(x_grad, expected_x_grad[..., rows, :]) <= 1e-12
        else:
            assert x_grad is None
        for grad, want in zip(w_grads, expected_w_grads, strict=True):
            dist.all_reduce(grad)
            assert relative_error(grad, want) <= 1e-12

    # x's halo travels once per step, for both products and whatever their weights; its gradients go back only
    # when x needs them (the weights' gradients are local); unchanged features without a gradient keep their halo
    plan = shard.halo_plans[1]
    row_bytes = 3 * 8 * (2 if batch else 1)
    sent_rows, halo_rows = int(plan.send_counts.sum()), plan.n_halo
    per_step = 2 * (sent_rows + halo_rows) if x_needs_grad else sent_rows
    assert partitioned.exchangers[1].bytes_sent == per_step * row_bytes


@pytest.mark.parametrize(("batch", "x_needs_grad"), [((), True), ((2,), True), ((), False)])
def test_weighted_products_on_three_parts_equal_the_whole_and_share_one_exchange(batch, x_needs_grad):
    run_on_ranks(check_weighted_products, 3, batch, x_needs_grad)


def check_weighted_product_under_autocast(rank, world_size):
    complex_ = torus_mesh(8, 5, seed=2)
    shard = build_shards(complex_, assign_cells(complex_, world_size, "metis"), NAMES, world_size)[rank]
    rows = torch.from_numpy(shard.owned_cells[1])
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(complex_.n_cells[1], 8, generator=generator)
    weight = torch.randn(8, 8, generator=generator)
    whole = complex_.neighborhood("adjacency_1")
    x_whole, w_whole = x.clone().requires_grad_(), weight.clone().requires_grad_()
    (whole @ (x_whole @ w_whole)).square().sum().backward()  # float32: the reference

    part = PartitionedComplex(shard).neighborhood("adjacency_1")
    x_part, w_part = x[rows].clone().requires_grad_(), weight.clone().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = part.matmul(x_part, w_part)
    assert y.dtype == torch.bfloat16
    y.float().square().sum().backward()
    assert x_part.grad.dtype == torch.float32 and w_part.grad.dtype == torch.float32
    assert relative_error(y.float(), (whole @ (x @ weight))[rows]) <= 2e-2
    assert relative_error(x_part.grad, x_whole.grad[rows]) <= 5e-2
    dist.all_reduce(w_part.grad)
    assert relative_error(w_part.grad, w_whole.grad) <= 5e-2


def test_a_weighted_product_under_bfloat16_autocast_returns_gradients_in_the_inputs_dtypes():
    run_on_ranks(check_weighted_product_under_autocast, 2)


@pytest.mark.parametrize("batch", [(), (2,)], ids=["cells", "batched"])
def test_a_cached_halo_is_added_into_the_owned_product_in_place_where_autograd_allows_it(batch):
    # 5 target rows; source columns 0-2 owned, 3-4 halo; rows 0 and 3 are the boundary
    dense = torch.tensor([[1.0, 0, 2, 3, 0], [0, 4, 0, 0, 0], [5, 0, 6, 0, 0], [0, 7, 0, 0, 8], [0, 0, 9, 0, 0]],
                         dtype=torch.float64)
    split = ColumnSplit(dense.to_sparse(), n_owned=3, n_halo=2)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(*batch, 3, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    halo = torch.randn(*batch, 2, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    readout = torch.randn(*batch, 5, 4, generator=generator, dtype=torch.float64)
    with profile(activities=[ProfilerActivity.CPU]) as recorded:
        y = split.with_halo(x, halo)
    copied = "aten::index_add" in {event.key for event in recorded.key_averages()}  # out of place: a copy of y
    assert copied == bool(batch)  # batched products are views, which autograd forbids changing in place
    (y * readout).sum().backward()
    features = torch.cat([x, halo], dim=-2).detach().requires_grad_()
    expected = dense @ features
    (expected * readout).sum().backward()
    assert relative_error(y, expected) <= 1e-12
    assert relative_error(x.grad, features.grad[..., :3, :]) <= 1e-12
    assert relative_error(halo.grad, features.grad[..., 3:, :]) <= 1e-12
