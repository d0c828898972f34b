"""Reading neighborhoods: entries, row sums and products against dense algebra."""

import gc

import pytest
import torch

from tests.reference import TOLERANCE, random_neighborhood, relative_error
from topodist.ops import neighborhood as neighborhood_module
from topodist.ops.neighborhood import (
    check_features,
    neighborhood_index,
    neighborhood_product,
    neighborhood_sum,
    neighborhood_transpose,
    pair_scores,
    propagate,
    propagate_heads,
    propagate_mean,
    row_sums,
)


def test_index_sums_duplicates_and_sorts_rows():
    indices = torch.tensor([[2, 0, 2, 1], [1, 3, 1, 0]])
    values = torch.tensor([1.0, 2.0, 3.0, 4.0])
    neighborhood = torch.sparse_coo_tensor(indices, values, (4, 5), check_invariants=True)
    index = neighborhood_index(neighborhood)
    assert index.target_index.tolist() == [0, 1, 2]
    assert index.source_index.tolist() == [3, 0, 1]
    assert index.values.tolist() == [2.0, 4.0, 4.0]
    assert (index.n_target_cells, index.n_source_cells) == (4, 5)


def test_csr_and_coo_give_the_same_entries():
    coo = random_neighborhood(7, 5, seed=3)
    a, b = neighborhood_index(coo), neighborhood_index(coo.to_sparse_csr())
    for left, right in zip(a[:5], b[:5]):
        assert torch.equal(torch.as_tensor(left), torch.as_tensor(right))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_row_sums_and_propagate_match_dense(scatter_backend, dtype):
    neighborhood = random_neighborhood(9, 6, seed=4, empty_rows=(2, 8), dtype=dtype)
    dense = neighborhood.to_dense()
    index = neighborhood_index(neighborhood)
    assert relative_error(row_sums(index), dense.sum(dim=1)) <= TOLERANCE[dtype]
    x = torch.randn(2, 6, 3, dtype=dtype)
    assert relative_error(propagate(index, x), dense @ x) <= TOLERANCE[dtype]


def test_propagate_with_per_batch_values(scatter_backend):
    neighborhood = random_neighborhood(5, 4, seed=5)
    index = neighborhood_index(neighborhood)
    weights = torch.rand(3, index.values.numel())
    x = torch.randn(3, 4, 2)
    out = propagate(index, x, index.values * weights)
    for b in range(3):
        weighted = torch.sparse_coo_tensor(
            torch.stack([index.target_index, index.source_index]),
            index.values * weights[b],
            (5, 4),
            check_invariants=True,
        ).to_dense()
        assert relative_error(out[b], weighted @ x[b]) <= 1e-6


@pytest.mark.parametrize("learnable_values", [False, True])  # with learnable values the index keeps no CSR rows
def test_propagate_mean_divides_each_row_by_its_entries(learnable_values):
    neighborhood = random_neighborhood(9, 6, seed=6, empty_rows=(2, 8), dtype=torch.float64)
    if learnable_values:
        neighborhood = torch.sparse_coo_tensor(neighborhood.indices(), neighborhood.values().requires_grad_(),
                                               neighborhood.shape, check_invariants=True)
    index = neighborhood_index(neighborhood)
    assert (index.rows is None) == learnable_values
    dense = neighborhood.to_dense().detach()
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    counts = (dense != 0).sum(dim=1, keepdim=True).clamp(min=1)
    assert relative_error(propagate_mean(index, x, reduce="mean"), dense @ x / counts) <= 1e-12
    assert relative_error(propagate_mean(index, x, reduce="sum"), dense @ x) <= 1e-12


def test_propagate_heads_weights_each_head_with_its_values():
    neighborhood = random_neighborhood(7, 5, seed=7, empty_rows=(3,), dtype=torch.float64)
    index = neighborhood_index(neighborhood)
    x = torch.randn(5, 3, 4, dtype=torch.float64, requires_grad=True)
    values = torch.randn(len(index.source_index), 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, values: propagate_heads(index, x, values), (x, values))
    out = propagate_heads(index, x, values)
    for head in range(3):
        weighted = torch.sparse_coo_tensor(torch.stack([index.target_index, index.source_index]),
                                           values[:, head].detach(), (7, 5), check_invariants=True).to_dense()
        assert relative_error(out[:, head], weighted @ x[:, head].detach()) <= 1e-12


def test_bad_neighborhoods_are_refused():
    with pytest.raises(ValueError, match=r"2-D torch sparse tensor.*\.to_sparse\(\)"):
        neighborhood_index(torch.eye(3))
    with pytest.raises(ValueError, match="3-D tensor"):
        neighborhood_index(torch.zeros(2, 2, 2).to_sparse())
    with pytest.raises(TypeError, match="got ndarray"):
        neighborhood_index(torch.eye(3).numpy())


def test_feature_checks_name_the_argument():
    with pytest.raises(TypeError, match="x_source must hold floating-point features"):
        check_features(torch.ones(3, 2, dtype=torch.long), "x_source", 3, "columns")
    with pytest.raises(ValueError, match=r"x_target has 4 cells .* neighborhood has 3 rows"):
        check_features(torch.ones(4, 2), "x_target", 3, "rows")
    with pytest.raises(ValueError, match=r"shape \(\.\.\., n_cells, channels\)"):
        check_features(torch.ones(3), "x_source", 3, "columns")
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        check_features([[1.0]], "x_source", 1, "columns")


def test_sums_transposes_and_products_are_formed_once_per_tensor():
    first, second = random_neighborhood(7, 7, 0.4, seed=1), random_neighborhood(7, 7, 0.4, seed=2)
    total = neighborhood_sum(first, second)
    assert torch.equal(total.to_dense(), first.to_dense() + second.to_dense())
    assert neighborhood_sum(first, second) is total
    transpose = neighborhood_transpose(first)
    assert torch.equal(transpose.to_dense(), first.to_dense().T) and neighborhood_transpose(first) is transpose
    product = neighborhood_product(first, transpose)
    assert torch.equal(product.to_dense(), torch.sparse.mm(first, first.T).to_dense())
    assert neighborhood_product(first, transpose) is product

    first._values().mul_(2)  # changed values in place: formed again
    doubled = neighborhood_sum(first, second)
    assert doubled is not total and torch.equal(doubled.to_dense(), first.to_dense() + second.to_dense())


def test_derived_neighborhoods_go_with_their_operands_and_learnable_values_are_not_kept():
    entries = len(neighborhood_module._DERIVED)
    first, second = random_neighborhood(5, 5, 0.5, seed=3), random_neighborhood(5, 5, 0.5, seed=4)
    neighborhood_sum(first, second)
    assert len(neighborhood_module._DERIVED) == entries + 1
    del first
    gc.collect()
    assert len(neighborhood_module._DERIVED) == entries

    learnable = random_neighborhood(5, 5, 0.5, seed=5).requires_grad_()
    total = neighborhood_sum(learnable, second)
    assert neighborhood_sum(learnable, second) is not total  # each forward's graph needs its own sum
    torch.sparse.sum(total).backward()
    assert learnable.grad is not None


def test_the_transpose_of_a_cached_neighborhood_computes_its_rows_only_when_asked():
    neighborhood = random_neighborhood(6, 4, seed=21).coalesce()
    neighborhood_index(neighborhood)
    transposed = neighborhood_index(neighborhood.T)  # from the cached CSR transpose
    assert transposed._target_index is None  # a product through its CSR form does not need them
    x = torch.randn(6, 2)
    assert relative_error(propagate(transposed, x), neighborhood.to_dense().T @ x) <= TOLERANCE[torch.float32]
    assert transposed._target_index is None
    expected = neighborhood.to_dense().T.to_sparse().indices()
    assert torch.equal(transposed.target_index, expected[0]) and torch.equal(transposed.source_index, expected[1])
    with pytest.raises(ValueError, match="only when rows"):
        neighborhood_module.NeighborhoodIndex(None, expected[1], torch.ones(expected.shape[1]), 4, 6)


@pytest.mark.parametrize("weight_shape", [(7,), (7, 2)])
def test_pair_scores_equal_the_concatenated_pair_of_every_entry(weight_shape):
    generator = torch.Generator().manual_seed(5)
    source_index = torch.tensor([0, 2, 2, 4, 1])
    target_index = torch.tensor([0, 0, 1, 2, 2])
    x_source = torch.randn(3, 5, 4, generator=generator, dtype=torch.float64)  # a leading batch dimension
    x_target = torch.randn(3, 3, 3, generator=generator, dtype=torch.float64)
    weight = torch.randn(*weight_shape, generator=generator, dtype=torch.float64)
    pairs = torch.cat([x_source.index_select(1, source_index), x_target.index_select(1, target_index)], dim=-1)
    expected = pairs @ weight
    got = pair_scores(x_source, x_target, weight, source_index, target_index)
    assert got.shape == expected.shape and torch.allclose(got, expected, rtol=1e-12, atol=0)


def test_cache_callbacks_run_after_the_module_s_globals_are_gone(monkeypatch):
    """At interpreter shutdown a neighborhood can die after this module's globals were set to None."""
    module = neighborhood_module

    indices = torch.tensor([[0, 1, 1, 0], [1, 0, 1, 1]])
    uncoalesced = torch.sparse_coo_tensor(indices, torch.ones(4), (2, 2), check_invariants=False)
    coalesced = torch.sparse_coo_tensor(indices, torch.ones(4), (2, 2), check_invariants=False).coalesce()
    cache = module._IndexCache()
    cache.get(uncoalesced)
    module.neighborhood_sum(coalesced, coalesced.t().coalesce())
    monkeypatch.setattr(module, "_DERIVED", None)
    monkeypatch.setattr(module, "_Remembered", None)
    monkeypatch.setattr(cache, "_finalizing", lambda: True, raising=False)  # sys.is_finalizing() at shutdown
    del uncoalesced, coalesced  # their callbacks run now; an exception in one fails the test (unraisable)
    gc.collect()
    assert cache.by_tensor == {} and cache.recent == []
