"""The CSR product for linear aggregation: values, gradients, threads, fallbacks and the neighborhood cache."""

import pytest
import torch

from tests.reference import TOLERANCE, random_neighborhood, reference_counting_only, relative_error
from topodist.ops import csr_kernel
from topodist.ops.neighborhood import neighborhood_index, propagate
from topodist.ops.scatter import scatter
from topodist.ops.spmm import SparseRows, sparse_rows_matmul, weighted_rows_matmul


def rows_of(neighborhood: torch.Tensor) -> SparseRows:
    coalesced = neighborhood.coalesce()
    row, col = coalesced.indices()
    return SparseRows.from_coo(row, col, coalesced.values(), coalesced.shape)


@pytest.fixture(params=["kernel", "torch"])
def product_path(request, monkeypatch):
    """Run a test through the compiled kernel and through torch's CSR product."""
    if request.param == "torch":
        monkeypatch.setattr(csr_kernel, "available", lambda x: False)
    else:
        assert csr_kernel.available(torch.zeros(1)), "numba is a dependency: the kernel must serve CPU float32"
    return request.param


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_product_matches_dense_with_empty_rows_and_columns(product_path, dtype):
    neighborhood = random_neighborhood(30, 20, seed=1, empty_rows=(0, 7, 29), dtype=dtype)
    dense = neighborhood.to_dense()
    dense[:, 5] = 0  # an empty column too
    neighborhood = dense.to_sparse()
    x = torch.randn(20, 6, dtype=dtype)
    y = sparse_rows_matmul(rows_of(neighborhood), x)
    assert y.dtype == dtype
    assert relative_error(y, dense @ x) <= TOLERANCE[dtype]
    assert torch.all(y[[0, 7, 29]] == 0)


def test_batched_features_and_values_converted_to_the_features_dtype(product_path):
    neighborhood = random_neighborhood(12, 9, seed=2)
    x = torch.randn(3, 2, 9, 5, dtype=torch.float64)
    y = sparse_rows_matmul(rows_of(neighborhood), x)
    assert y.shape == (3, 2, 12, 5) and y.dtype == torch.float64
    assert relative_error(y, neighborhood.to_dense().double() @ x) <= 1e-7  # float32 values, float64 features


def test_gradients_and_second_derivatives(product_path):
    neighborhood = random_neighborhood(8, 6, seed=3, empty_rows=(4,), dtype=torch.float64)
    rows = rows_of(neighborhood)
    x = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: sparse_rows_matmul(rows, x), (x,))
    assert torch.autograd.gradgradcheck(lambda x: sparse_rows_matmul(rows, x) ** 2, (x,))


def test_threaded_blocks_equal_one_thread(monkeypatch):
    neighborhood = random_neighborhood(400, 300, density=0.05, seed=4, empty_rows=tuple(range(100, 180)))
    x = torch.randn(300, 16)
    single = rows_of(neighborhood).matmul(x)
    monkeypatch.setattr(csr_kernel, "MIN_WORK_PER_THREAD", 1)
    threads = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        rows = rows_of(neighborhood)
        blocked = rows.matmul(x)
        assert 3 in rows.blocks  # the product really ran in three blocks
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(blocked, single)  # each row is summed by one thread, in the same order


@pytest.mark.skipif(not csr_kernel.available(torch.ones(1)), reason="the compiled kernel (numba) only")
def test_a_small_complex_s_products_run_on_one_thread_and_a_large_one_s_on_two():
    """Handing a block to the second thread costs more than it saves below 2M multiply-adds (BENCHMARKS.md)."""
    from topodist.data.datasets import torus_mesh

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        blocks = {}
        for side in (40, 120):
            adjacency = torus_mesh(side, side, seed=0).neighborhood("adjacency_1")  # edges: 6 neighbors each
            rows = rows_of(adjacency)
            rows.matmul(torch.randn(adjacency.shape[1], 64))
            blocks[side] = (rows.nnz * 64, set(rows.blocks))
    finally:
        torch.set_num_threads(threads)
    assert blocks[40][0] < 2**21 and blocks[40][1] == set()  # 1.2M multiply-adds: one piece, no blocks cut
    assert blocks[120][0] > 2**22 and blocks[120][1] == {2}


def test_row_blocks_balance_work_and_cover_every_row():
    counts = torch.tensor([10, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 9, 0, 2])
    crow = torch.cat([torch.zeros(1, dtype=torch.int64), counts.cumsum(0)]).numpy()
    for n_blocks in (1, 2, 3, 5):
        bounds = csr_kernel.row_blocks(crow, n_blocks)
        assert bounds[0] == 0 and bounds[-1] == len(counts) and list(bounds) == sorted(bounds)
        work = [int((counts[a:b] + 1).sum()) for a, b in zip(bounds[:-1], bounds[1:])]
        mean = int((counts + 1).sum()) / n_blocks
        assert max(work) <= mean + int(counts.max()) + 1  # off the mean by at most one row


def test_transpose_is_built_once_and_knows_its_transpose():
    rows = rows_of(random_neighborhood(7, 4, seed=5))
    assert rows.T is rows.T and rows.T.T is rows
    assert torch.equal(torch.sparse_csr_tensor(rows.T.crow, rows.T.col, rows.T.values, rows.T.shape,
                                               check_invariants=True).to_dense(),
                       torch.sparse_csr_tensor(rows.crow, rows.col, rows.values, rows.shape,
                                               check_invariants=True).to_dense().T)


def test_a_matrix_and_its_transpose_form_no_reference_cycle():
    import weakref

    dense = random_neighborhood(7, 4, seed=5).to_dense()
    rows = rows_of(dense.to_sparse())
    transpose = rows.T
    with reference_counting_only():
        origin, kept = weakref.ref(rows), weakref.ref(transpose)
        del rows
        assert origin() is None and kept() is transpose  # the transpose does not keep its origin
        rebuilt = transpose.T  # built again from the transpose, then kept by it
        assert rebuilt is transpose.T and rebuilt.T is transpose
        assert torch.equal(rebuilt.matmul(torch.eye(4)), dense)
        del transpose, rebuilt
        assert kept() is None


def test_empty_matrix_and_zero_channels():
    empty = SparseRows.from_coo(torch.zeros(0, dtype=torch.int64), torch.zeros(0, dtype=torch.int64),
                                torch.zeros(0), (3, 4))
    assert torch.equal(empty.matmul(torch.randn(4, 2)), torch.zeros(3, 2))
    assert empty.matmul(torch.randn(4, 0)).shape == (3, 0)
    assert torch.equal(empty.T.matmul(torch.randn(3, 2)), torch.zeros(4, 2))


def test_wrong_feature_count_is_refused():
    with pytest.raises(ValueError, match="3 cells .* 4 columns"):
        sparse_rows_matmul(rows_of(random_neighborhood(5, 4)), torch.randn(3, 2))


def test_neighborhood_index_is_cached_per_tensor_until_its_values_change():
    neighborhood = random_neighborhood(6, 5, seed=6).coalesce()
    first = neighborhood_index(neighborhood)
    assert neighborhood_index(neighborhood) is first
    x = torch.randn(5, 3)
    before = propagate(first, x)
    neighborhood._values().mul_(2)
    second = neighborhood_index(neighborhood)
    assert second is not first
    assert relative_error(propagate(second, x), 2 * before) <= 1e-6


def test_a_transposed_view_is_served_by_the_cached_transpose():
    neighborhood = random_neighborhood(6, 5, seed=7).coalesce()
    index = neighborhood_index(neighborhood)
    transposed = neighborhood_index(neighborhood.T)  # a new, uncoalesced tensor on every call
    assert transposed.rows is index.rows.T
    assert neighborhood_index(neighborhood.T) is transposed
    x = torch.randn(6, 3)
    assert relative_error(propagate(transposed, x), neighborhood.to_dense().T @ x) <= 1e-6
    assert neighborhood_index(neighborhood.transpose(1, 0)).rows is index.rows.T  # values copied, equal
    changed = neighborhood.transpose(1, 0).coalesce()
    changed.values()[0] += 1
    assert neighborhood_index(changed).rows is not index.rows.T  # other values: its own index


def test_a_transpose_taken_after_an_in_place_change_gets_the_new_values():
    neighborhood = random_neighborhood(6, 5, seed=11).coalesce()
    neighborhood_index(neighborhood)
    neighborhood.T  # noqa: B018
    neighborhood_index(neighborhood.transpose(1, 0))
    neighborhood._values().mul_(3)  # the cached entries of neighborhood are stale now
    x = torch.randn(6, 2)
    for transposed in (neighborhood.T, neighborhood.transpose(1, 0)):
        got = propagate(neighborhood_index(transposed), x)
        assert relative_error(got, neighborhood.to_dense().T @ x) <= 1e-6


def test_cached_entries_go_with_their_neighborhood():
    import gc
    import weakref

    from topodist.ops.neighborhood import _INDEX_CACHE

    gc.collect()
    before = len(_INDEX_CACHE.by_tensor)
    neighborhood = random_neighborhood(6, 5, seed=9).coalesce()
    neighborhood_index(neighborhood)
    transposed = neighborhood_index(neighborhood.T)
    assert len(_INDEX_CACHE.by_tensor) == before + 1  # the transient N.T went already
    rows = weakref.ref(transposed.rows)
    with reference_counting_only():  # no reference cycle: they go as soon as the tensor does
        del neighborhood, transposed
        assert len(_INDEX_CACHE.by_tensor) == before
        assert rows() is None  # nothing keeps the cached transpose


def test_values_that_require_grad_take_the_gather_scatter_path():
    dense = random_neighborhood(5, 4, seed=8).to_dense()
    values = dense.to_sparse().values().clone().requires_grad_(True)
    neighborhood = torch.sparse_coo_tensor(dense.to_sparse().indices(), values, (5, 4), check_invariants=True)
    index = neighborhood_index(neighborhood)
    assert index.rows is None
    propagate(index, torch.randn(4, 2)).sum().backward()
    assert values.grad is not None and values.grad.abs().sum() > 0


def test_neighborhood_matmul_equals_the_matrix_product_for_every_kind_of_operand():
    from topodist.ops.neighborhood import neighborhood_matmul

    neighborhood = random_neighborhood(7, 5, seed=10)
    dense = neighborhood.to_dense()
    for x in (torch.randn(5, 3), torch.randn(2, 5, 3), torch.randn(5)):
        assert relative_error(neighborhood_matmul(neighborhood, x), dense @ x) <= 1e-6
        assert relative_error(neighborhood_matmul(neighborhood.to_sparse_csr(), x), dense @ x) <= 1e-6
    x = torch.randn(5, 3)
    assert torch.equal(neighborhood_matmul(dense, x), dense @ x)  # anything else: its own @


def test_a_transpose_made_every_forward_of_a_neighborhood_never_used_itself_is_built_once(monkeypatch):
    from topodist.ops import neighborhood as neighborhood_module

    built = []
    build = neighborhood_module._build_index
    monkeypatch.setattr(neighborhood_module, "_build_index", lambda n: built.append(tuple(n.shape)) or build(n))
    neighborhood = random_neighborhood(7, 4, seed=13).coalesce()  # never indexed itself
    x = torch.randn(7, 3)
    for _ in range(3):  # as a forward that writes N.T: a new uncoalesced tensor each time, gone after it
        assert relative_error(propagate(neighborhood_index(neighborhood.T), x), neighborhood.to_dense().T @ x) <= 1e-6
    assert built == [(4, 7)]
    neighborhood._values().mul_(-2)  # changed in place: built again, with the new values
    assert relative_error(propagate(neighborhood_index(neighborhood.T), x), neighborhood.to_dense().T @ x) <= 1e-6
    assert built == [(4, 7), (4, 7)]


def test_a_neighborhood_used_after_its_transpose_in_each_forward_is_served_from_the_transpose_entries(
    monkeypatch,
):
    from topodist.ops import neighborhood as neighborhood_module

    built = []
    build = neighborhood_module._build_index
    monkeypatch.setattr(neighborhood_module, "_build_index", lambda n: built.append(tuple(n.shape)) or build(n))
    neighborhood = random_neighborhood(7, 4, seed=15).coalesce()
    dense = neighborhood.to_dense()
    for _ in range(3):  # as HSN's layers: N.T (a new tensor, gone after its layer), then N
        x_target = torch.randn(7, 3, requires_grad=True)
        x_source = torch.randn(4, 3, requires_grad=True)
        up = propagate(neighborhood_index(neighborhood.T), x_target)
        down = propagate(neighborhood_index(neighborhood), x_source)
        assert relative_error(up, dense.T @ x_target) <= 1e-6 and relative_error(down, dense @ x_source) <= 1e-6
        (up.square().sum() + down.square().sum()).backward()
        assert relative_error(x_target.grad, 2 * dense @ (dense.T @ x_target)) <= 1e-5
        assert relative_error(x_source.grad, 2 * dense.T @ (dense @ x_source)) <= 1e-5
    assert built == [(4, 7)]  # the first N.T's entries, and nothing else: N's are their transpose
    storage = neighborhood._values().untyped_storage()
    assert not any(record.values_storage() is storage for record in neighborhood_module._INDEX_CACHE.recent)


def test_only_equal_entries_over_the_same_values_are_served_and_few_are_kept():
    from topodist.ops.neighborhood import _INDEX_CACHE, RECENT_UNCOALESCED

    values = torch.tensor([1.0, 2.0, 3.0])
    x = torch.randn(3, 2)
    rows = torch.tensor([[2, 0, 1], [0, 1, 2]])
    for indices in (rows, rows.flip(0), rows, rows.flip(0)):  # same values memory, other entries in turn
        neighborhood = torch.sparse_coo_tensor(indices, values, (3, 3), check_invariants=True)
        assert not neighborhood.is_coalesced()
        assert relative_error(propagate(neighborhood_index(neighborhood), x), neighborhood.to_dense() @ x) <= 1e-6
        del neighborhood
    copied = torch.sparse_coo_tensor(rows, values.clone(), (3, 3), check_invariants=True)
    copied._values().add_(1)  # the same indices over other values memory: never served the entries above
    assert relative_error(propagate(neighborhood_index(copied), x), copied.to_dense() @ x) <= 1e-6
    kept = [random_neighborhood(5, 5, seed=seed) for seed in range(2 * RECENT_UNCOALESCED)]
    for neighborhood in kept:
        neighborhood_index(neighborhood.T)
    assert len(_INDEX_CACHE.recent) == RECENT_UNCOALESCED


def test_entries_kept_for_a_next_transpose_go_when_the_neighborhood_does():
    import weakref

    from topodist.ops.neighborhood import _INDEX_CACHE

    with reference_counting_only():
        neighborhood = random_neighborhood(7, 4, seed=14).coalesce()  # never indexed itself
        rows = weakref.ref(neighborhood_index(neighborhood.T).rows)  # the N.T is gone: its entries are kept
        assert rows() is not None and any(record.index.rows is rows() for record in _INDEX_CACHE.recent)
        del neighborhood  # and with it the values memory the entries were kept for
        assert rows() is None
        assert all(record.values_storage() is not None for record in _INDEX_CACHE.recent)


def gathered_and_scattered(rows: SparseRows, values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``sum_j v_ij x_j`` one message per stored entry: the formula the weighted product replaces."""
    messages = values.unsqueeze(-1) * x.index_select(0, rows.col)
    return scatter(messages, rows.entry_rows(), dim=0, dim_size=rows.shape[0])


@pytest.mark.parametrize("transposed", [False, True])
def test_weighted_product_and_its_gradients_equal_gathering_each_entry(transposed):
    rows = rows_of(random_neighborhood(30, 20, seed=11, empty_rows=(0, 7, 29), dtype=torch.float64))
    rows = rows.T if transposed else rows  # a transpose's own transpose order is its origin's entries
    values = torch.randn(rows.nnz, dtype=torch.float64, requires_grad=True)
    x = torch.randn(rows.shape[1], 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, values: weighted_rows_matmul(rows, values, x), (x, values))
    y = weighted_rows_matmul(rows, values, x)
    expected = gathered_and_scattered(rows, values, x)
    assert relative_error(y, expected) <= 1e-12
    weights = torch.randn_like(y)
    got = torch.autograd.grad((y * weights).sum(), (x, values))
    wanted = torch.autograd.grad((expected * weights).sum(), (x, values))
    for ours, reference in zip(got, wanted, strict=True):
        assert relative_error(ours, reference) <= 1e-12


def test_weighted_product_in_threaded_blocks_equals_one_thread(monkeypatch):
    rows = rows_of(random_neighborhood(400, 300, density=0.05, seed=12, empty_rows=tuple(range(100, 180))))
    values = torch.randn(rows.nnz, requires_grad=True)
    x = torch.randn(300, 16, requires_grad=True)

    def product_and_gradients():
        y = weighted_rows_matmul(rows, values, x)
        return (y, *torch.autograd.grad((y * torch.arange(16.0)).sum(), (x, values)))

    single = product_and_gradients()
    monkeypatch.setattr(csr_kernel, "MIN_WORK_PER_THREAD", 1)
    threads = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        rows.blocks.clear()
        blocked = product_and_gradients()
        assert 3 in rows.blocks and 3 in rows.T.blocks
    finally:
        torch.set_num_threads(threads)
    for one, three in zip(single, blocked, strict=True):
        assert torch.equal(one, three)  # each row (each entry's dot product) is summed by one thread, in one order


def test_weighted_product_serves_only_what_its_kernel_computes():
    rows = rows_of(random_neighborhood(6, 4, seed=13))
    values = torch.randn(rows.nnz)
    assert weighted_rows_matmul(rows, values, torch.randn(4, 3)) is not None
    assert weighted_rows_matmul(rows, values, torch.randn(2, 4, 3)) is None  # batched features
    assert weighted_rows_matmul(rows, values.double(), torch.randn(4, 3)) is None  # dtypes differ
    assert weighted_rows_matmul(rows, values.bfloat16(), torch.randn(4, 3).bfloat16()) is None
    with pytest.raises(ValueError, match="values for a"):
        weighted_rows_matmul(rows, values[:-1], torch.randn(4, 3))


def test_attention_weighted_propagation_takes_the_weighted_product(monkeypatch):
    neighborhood = random_neighborhood(9, 7, seed=14)
    index = neighborhood_index(neighborhood)
    values = torch.randn(len(index.source_index), requires_grad=True)
    x = torch.randn(7, 3, requires_grad=True)
    expected = gathered_and_scattered(index.rows, values, x)
    monkeypatch.setattr(torch.Tensor, "index_select", lambda *args: pytest.fail("gathered one message per entry"))
    y = propagate(index, x, values)
    y.sum().backward()
    assert relative_error(y, expected) <= TOLERANCE[torch.float32]
    assert values.grad is not None and x.grad is not None
