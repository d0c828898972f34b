"""describe(): sizes, costs, Betti numbers, skipping matrices too large to assemble, and hypergraphs' B B^T."""

from topodist.data import inspect as inspect_module
from topodist.data.datasets import icosphere_mesh, karate_club, random_hypergraph, torus_mesh
from topodist.data.hypergraphs import hypergraph
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


def test_hypergraph_incidences_report_how_b_b_transpose_is_applied():
    torus = torus_mesh(8, 8)
    triangles = hypergraph(torus.cells[2].tolist(), torus.n_cells[0])
    rows = describe(triangles)["neighborhoods"]
    names = [row["name"] for row in rows]
    product = rows[names.index("incidence_0_1") + 1]
    assert product["name"] == "incidence_0_1 @ incidence_0_1.T" and product["shape"] == [64, 64]
    assert product["nnz"] == 7 * 64 and product["factored_nnz"] == 2 * 3 * 128  # itself and six neighbours per node
    assert product["cheaper"] == "assembled" and product["assembled_bytes"] < product["factored_bytes"]

    n_nodes = 400  # one hyperedge holding every node, and one per node
    large = hypergraph([list(range(n_nodes))] + [[node] for node in range(n_nodes)], n_nodes)
    description = describe(large, ["incidence_0_1"])
    product = description["neighborhoods"][1]
    assert product["cheaper"] == "factored" and product["nnz"] is None
    assert product["assembled_nnz_bound"] == n_nodes * n_nodes
    assert f"<={n_nodes * n_nodes:,}" in format_description(description)
