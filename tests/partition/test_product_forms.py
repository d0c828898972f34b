"""Laplacians assembled or factored: the factors multiply back to the Laplacian, and the byte count picks the form."""

import numpy as np
import pytest

from topodist.data.datasets import random_geometric_complex, torus_mesh
from topodist.partition.product_forms import choose_product_forms, laplacian_factors, matrices_to_partition

LAPLACIANS = ["down_laplacian_1", "up_laplacian_0", "up_laplacian_1", "down_laplacian_2",
              "scaled_down_laplacian_1", "scaled_up_laplacian_1"]


@pytest.fixture(scope="module")
def torus():
    return torus_mesh(12, 10, seed=0)


@pytest.fixture(scope="module")
def dense_clique_complex():
    """Mean vertex degree about 20: the edge down-Laplacian stores ~20 entries per incidence entry."""
    return random_geometric_complex(600, 0.1, seed=0)


def test_factors_of_each_laplacian():
    assert laplacian_factors("down_laplacian_1") == ("incidence_1.T", "incidence_1")
    assert laplacian_factors("scaled_down_laplacian_2") == ("incidence_2.T", "incidence_2")
    assert laplacian_factors("up_laplacian_0") == ("incidence_1", "incidence_1.T")
    assert laplacian_factors("scaled_up_laplacian_1") == ("incidence_2", "incidence_2.T")
    for name in ("down_laplacian_0", "hodge_laplacian_1", "adjacency_1", "kipf_adjacency_0", "incidence_1", "bogus"):
        assert laplacian_factors(name) is None


@pytest.mark.parametrize("complex_name", ["torus", "dense_clique_complex"])
def test_factors_times_scale_are_the_laplacian(request, complex_name):
    complex_ = request.getfixturevalue(complex_name)
    forms = choose_product_forms(complex_, LAPLACIANS, "factored")
    assert set(forms) == set(LAPLACIANS)
    for name, form in forms.items():
        left, right = (complex_.matrix(factor) for factor in form.factors)
        product = form.scale * (left @ right)
        expected = complex_.matrix(name)
        assert abs(product - expected).max() <= 1e-12 * abs(expected).max(), name
        assert form.scale == 1.0 or name.startswith("scaled_")


def expected_bytes(complex_, name: str, channels: int) -> tuple[int, int]:
    """Both counts from the scipy factors: CSR arrays, features, the intermediate; L's entries bounded, not built."""
    def csr(rows, nnz):
        return 8 * (rows + 1) + 12 * nnz

    left, right = (complex_.matrix(factor) for factor in laplacian_factors(name))
    middle = (left != 0).sum(axis=0) * (right != 0).sum(axis=1)  # products per middle cell
    n, features = left.shape[0], 4 * channels * 2 * left.shape[0]
    bound = min(int(middle.sum()), n * n)
    factored = csr(n, left.nnz) + csr(right.shape[0], right.nnz) + features + 4 * channels * 2 * right.shape[0]
    return csr(n, bound) + features, factored


def test_auto_picks_the_form_that_moves_fewer_bytes(torus, dense_clique_complex):
    torus_forms = choose_product_forms(torus, LAPLACIANS, "auto")
    assert {form.form for form in torus_forms.values()} == {"assembled"}  # degree 6: every product is small
    forms = choose_product_forms(dense_clique_complex, LAPLACIANS + ["adjacency_0"], "auto", channels=64)
    assert "adjacency_0" not in forms
    for name, form in forms.items():
        assembled, factored = expected_bytes(dense_clique_complex, name, 64)
        assert (form.assembled_bytes, form.factored_bytes) == (assembled, factored)
        assert form.form == ("factored" if factored < assembled else "assembled")
    assert forms["down_laplacian_1"].form == "factored"
    fresh = random_geometric_complex(600, 0.1, seed=0)
    assert choose_product_forms(fresh, ["down_laplacian_1"], "auto")["down_laplacian_1"] == forms["down_laplacian_1"]
    assert "down_laplacian_1" not in fresh._matrices  # chosen without assembling it
    assert forms["up_laplacian_0"].form == "assembled"  # the chain's intermediate lives on the many edges
    degrees = np.asarray(abs(dense_clique_complex.matrix("incidence_1")).sum(axis=1)).ravel()
    assert dense_clique_complex.matrix("down_laplacian_1").nnz > 10 * dense_clique_complex.matrix("incidence_1").nnz
    assert degrees.mean() > 10


def test_factored_laplacians_are_partitioned_as_their_factors(dense_clique_complex):
    names = ["down_laplacian_1", "incidence_1", "up_laplacian_0", "scaled_down_laplacian_1"]
    forms = choose_product_forms(dense_clique_complex, names, "auto")
    assert matrices_to_partition(names, forms) == ["incidence_1.T", "incidence_1", "up_laplacian_0"]
    assert matrices_to_partition(names, choose_product_forms(dense_clique_complex, names, "assembled")) == names


def test_unknown_mode_is_named(torus):
    with pytest.raises(ValueError, match="laplacians='chain': choose one of assembled, factored, auto"):
        choose_product_forms(torus, LAPLACIANS, "chain")
