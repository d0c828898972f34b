"""describe(): sizes, costs, Betti numbers, and skipping matrices too large to assemble."""

from topodist.data import inspect as inspect_module
from topodist.data.datasets import icosphere_mesh, karate_club, random_hypergraph
from topodist.data.inspect import betti_numbers, describe, format_description
from topodist.partition.product_forms import choose_product_forms


def test_betti_numbers_satisfy_euler_and_known_values():
    karate = karate_club()
    betti = betti_numbers(karate)
    euler = sum((-1) ** k * n for k, n in enumerate(karate.n_cells))
    assert sum((-1) ** k * b for k, b in enumerate(betti)) == euler
    assert betti[0] == 1
    assert betti_numbers(icosphere_mesh(2)) == [1, 0, 1]
    assert betti_numbers(random_hypergraph(30, 10)) == [None, None]


def test_memory_and_cost_columns():
    sphere = icosphere_mesh(1)
    rows = {row["name"]: row for row in describe(sphere)["neighborhoods"]}
    incidence = rows["incidence_2"]
    assert incidence["nnz"] == 3 * 80 and incidence["csr_bytes"] == 240 * 12 + 121 * 8
    down = rows["down_laplacian_1"]
    assert down["factored_nnz"] == 2 * sphere.matrix("incidence_1").nnz
    assert down["cheaper"] == ("factored" if down["factored_bytes"] < down["assembled_bytes"] else "assembled")
    assert down["cheaper"] == choose_product_forms(sphere, ["down_laplacian_1"], "auto")["down_laplacian_1"].form


def test_too_large_matrices_are_bounded_not_assembled(monkeypatch):
    monkeypatch.setattr(inspect_module, "MAX_ASSEMBLED_NNZ", 100)
    sphere = icosphere_mesh(1)
    description = describe(sphere, ["down_laplacian_1", "coadjacency_1", "incidence_1"])
    down, coadjacency, incidence = description["neighborhoods"]
    assert down["nnz"] is None and down["assembled_nnz_bound"] >= 100
    assert down["cheaper"] == ("factored" if down["factored_bytes"] < down["assembled_bytes"] else "assembled")
    assert coadjacency["nnz"] is None and coadjacency["assembled_nnz_bound"] == down["assembled_nnz_bound"]
    assert incidence["nnz"] == sphere.matrix("incidence_1").nnz
    assert "down_laplacian_1" not in sphere._matrices  # never assembled
    text = format_description(description)
    assert f"<={down['assembled_nnz_bound']:,}" in text
