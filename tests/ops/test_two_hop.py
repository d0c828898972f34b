"""Two neighborhoods in a row: the assembled product where it moves fewer bytes, the two factors elsewhere."""

import pytest
import torch

from tests.reference import relative_error
from topodist.data.datasets import torus_mesh
from topodist.data.hypergraphs import hypergraph
from topodist.ops import two_hop as two_hop_module
from topodist.ops.neighborhood import neighborhood_transpose
from topodist.ops.two_hop import two_hop_bytes, two_hop_form, two_hop_matmul

_product = two_hop_module._product


def triangles(size: int = 6, layout: str = "coo", dtype=torch.float64) -> torch.Tensor:
    """Nodes x triangles of a size x size torus: 3 nodes per hyperedge, 6 hyperedges per node."""
    torus = torus_mesh(size, size, seed=0)
    return hypergraph(torus.cells[2].tolist(), torus.n_cells[0]).neighborhood("incidence_1", layout, dtype=dtype)


def one_large_hyperedge(n_nodes: int = 300, dtype=torch.float64) -> torch.Tensor:
    """Every node in one hyperedge, and each in a hyperedge of its own: ``B B^T`` is dense."""
    edges = [list(range(n_nodes))] + [[node] for node in range(n_nodes)]
    return hypergraph(edges, n_nodes).neighborhood("incidence_1", dtype=dtype)


def forbid_forming(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the product was formed")

    monkeypatch.setattr(torch.sparse, "mm", refuse)


def pair(incidence: torch.Tensor, first_layout: str = "coo") -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, B^T)``, ``B`` in ``first_layout``."""
    first = incidence.to_sparse_csr() if first_layout == "csr" else incidence
    return first, neighborhood_transpose(incidence)


@pytest.mark.parametrize(
    "make", [lambda: pair(triangles()), lambda: pair(triangles(), "csr"), lambda: pair(one_large_hyperedge())]
)
def test_equals_the_two_products_forward_and_backward(make):
    first, second = make()
    x = torch.randn(second.shape[1], 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ours, reference = x.clone().requires_grad_(), x.clone().requires_grad_()
    got = two_hop_matmul(first, second, ours)
    expected = first.to_dense() @ (second.to_dense() @ reference)
    assert relative_error(got, expected) <= 1e-10
    weights = torch.randn_like(expected)
    (got * weights).sum().backward()
    (expected * weights).sum().backward()
    assert relative_error(ours.grad, reference.grad) <= 1e-10


def test_triangles_are_assembled_and_one_large_hyperedge_is_never_formed(monkeypatch):
    incidence = triangles()
    form = two_hop_form(incidence, neighborhood_transpose(incidence), channels=64)
    dense = incidence.to_dense()
    assert form.form == "assembled" and torch.equal(form.product.to_dense(), dense @ dense.T)
    assert form.formed and form.product_nnz == 7 * incidence.shape[0] and form.assembled_bytes < form.factored_bytes
    large = one_large_hyperedge()
    forbid_forming(monkeypatch)
    form = two_hop_form(large, neighborhood_transpose(large), channels=64)
    n_nodes = large.shape[0]
    assert form.form == "factored" and form.product is None and not form.formed
    assert form.product_nnz == n_nodes * n_nodes  # the bound, n^2 + n, capped at the shape


def test_a_loose_bound_forms_the_product_and_its_own_entries_decide(monkeypatch):
    # at one channel the bound (9 per triangle: its three nodes squared) alone favours the factors, while the
    # product's own entries (7 per node: itself and six neighbours) favour it
    incidence = triangles()
    to_hyperedges = neighborhood_transpose(incidence)
    n_nodes, n_triangles = incidence.shape
    bound_bytes = two_hop_bytes(incidence, to_hyperedges, 9 * n_triangles, channels=1)
    own_bytes = two_hop_bytes(incidence, to_hyperedges, 7 * n_nodes, channels=1)
    assert bound_bytes[0] > bound_bytes[1] and own_bytes[0] < own_bytes[1]
    formed = []
    monkeypatch.setattr(two_hop_module, "_product", lambda *pair: formed.append(1) or _product(*pair))
    form = two_hop_form(incidence, to_hyperedges, channels=1)
    assert formed == [1] and form.form == "assembled" and form.product._nnz() == form.product_nnz == 7 * n_nodes
    assert form.assembled_bytes == own_bytes[0]


def test_the_choice_is_kept_per_pair_and_width_until_the_values_change(monkeypatch):
    incidence = triangles()
    to_hyperedges = neighborhood_transpose(incidence)
    calls = []
    monkeypatch.setattr(two_hop_module, "two_hop_form", lambda *args: calls.append(args[2]) or two_hop_form(*args))
    x = torch.randn(incidence.shape[0], 4, dtype=torch.float64)
    first = two_hop_matmul(incidence, to_hyperedges, x)
    assert torch.equal(two_hop_matmul(incidence, to_hyperedges, x), first) and calls == [4]
    two_hop_matmul(incidence, to_hyperedges, torch.randn(incidence.shape[0], 8, dtype=torch.float64))
    assert calls == [4, 8]
    incidence._values().mul_(2)  # changed in place: both operands' products are formed again
    to_hyperedges = neighborhood_transpose(incidence)
    assert relative_error(two_hop_matmul(incidence, to_hyperedges, x), 4 * first) <= 1e-10
    assert calls == [4, 8, 4]


def test_learnable_values_go_through_the_factors_and_get_their_gradient(monkeypatch):
    incidence = triangles()
    values = incidence._values().clone().requires_grad_()
    learnable = torch.sparse_coo_tensor(incidence._indices(), values, incidence.shape, check_invariants=True)
    x = torch.randn(incidence.shape[0], 3, dtype=torch.float64)
    forbid_forming(monkeypatch)
    two_hop_matmul(learnable, learnable.t(), x).sum().backward()
    dense_values = incidence._values().clone().requires_grad_()
    rows, columns = incidence._indices()
    dense = torch.zeros(incidence.shape, dtype=torch.float64).index_put((rows, columns), dense_values)
    (dense @ (dense.T @ x)).sum().backward()
    assert relative_error(values.grad, dense_values.grad) <= 1e-10


def test_factors_that_do_not_chain_are_refused():
    with pytest.raises(ValueError, match=r"cannot chain neighborhoods of shapes \(36, 72\) and \(36, 72\)"):
        two_hop_form(triangles(), triangles(), channels=4)
