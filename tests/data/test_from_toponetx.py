"""Converted TopoNetX complexes have TopoNetX's own neighborhood matrices."""

import networkx as nx
import numpy as np
import pytest
import toponetx as tnx
from toponetx.generators.classic_cell_complexes import pyrmaid_complex

from tests.data.toponetx_reference import assert_same_matrix, toponetx_matrix
from topodist.data.from_toponetx import from_toponetx

SIMPLICIAL = {
    "karate": lambda: tnx.datasets.karate_club("simplicial"),
    "random_clique": lambda: tnx.random_clique_complex(14, 0.45, seed=3),
    "linial_meshulam": lambda: tnx.linial_meshulam_complex(9, 0.4, seed=2),
    "delaunay": lambda: tnx.transform.delaunay_triangulation(np.random.default_rng(0).random((30, 2))),
    "clique_of_graph": lambda: tnx.transform.graph_to_clique_complex(nx.les_miserables_graph()),
    "string_labels": lambda: tnx.SimplicialComplex([["b", "a", "c"], ["c", "d"], ["e"]]),
}
CELL = {
    "karate": lambda: tnx.datasets.karate_club("cell"),
    "pyramid": lambda: pyrmaid_complex(5),
    "squares": lambda: tnx.CellComplex([[1, 2, 3, 4], [3, 4, 5, 6], [1, 2, 7], [7, 8, 9, 1]]),
}


def oriented_names(max_rank: int) -> list[str]:
    names = []
    for k in range(max_rank + 1):
        names += [f"incidence_{k}", f"incidence_{k}_unsigned", f"down_laplacian_{k}", f"coadjacency_{k}"] if k else []
        names += [f"up_laplacian_{k}", f"adjacency_{k}", f"kipf_adjacency_{k}"] if k < max_rank else []
        names += [f"hodge_laplacian_{k}", f"sym_normalized_hodge_laplacian_{k}"]
    return names


@pytest.mark.parametrize("source", SIMPLICIAL)
def test_simplicial_neighborhoods_equal_toponetx(source):
    domain = SIMPLICIAL[source]()
    ours = from_toponetx(domain)
    assert ours.kind == "simplicial" and ours.n_cells == tuple(domain.shape)
    for name in oriented_names(ours.max_rank):
        rtol = 1e-6 if "normalized" in name or "kipf" in name else 0.0  # TopoNetX works in float32
        assert_same_matrix(ours.matrix(name), toponetx_matrix(domain, "simplicial", name), rtol)


@pytest.mark.parametrize("source", CELL)
def test_cell_neighborhoods_equal_toponetx(source):
    domain = CELL[source]()
    ours = from_toponetx(domain)
    assert ours.kind == "cell" and ours.n_cells == tuple(domain.shape)
    names = [n for n in oriented_names(2) if "sym" not in n]  # TopoNetX's CellComplex has no sym-normalized Laplacian
    for name in names:
        rtol = 1e-6 if "kipf" in name else 0.0
        assert_same_matrix(ours.matrix(name), toponetx_matrix(domain, "cell", name), rtol)


def test_scaled_laplacians_equal_toponetx():
    domain = tnx.random_clique_complex(20, 0.4, seed=5)
    ours = from_toponetx(domain)
    for k in range(ours.max_rank):
        name = f"scaled_up_laplacian_{k}"
        assert_same_matrix(ours.matrix(name), toponetx_matrix(domain, "simplicial", name), 1e-6)


def combinatorial_complex():
    domain = tnx.CombinatorialComplex()
    for cell, rank in [([1, 2], 1), ([3, 4], 1), ([2, 3], 1), ([1, 2, 3, 4], 2), ([1, 2, 4], 2), ([5, 6], 1), (list(range(1, 8)), 3)]:
        domain.add_cell(cell, rank=rank)
    return domain


def random_combinatorial_complex(seed):
    rng = np.random.default_rng(seed)
    domain = tnx.CombinatorialComplex()
    for rank, size, count in [(1, 2, 25), (2, 4, 10), (3, 8, 4)]:
        for _ in range(count):
            domain.add_cell(sorted(rng.choice(15, size, replace=False).tolist()), rank=rank)
    return domain


def colored_hypergraph(seed):
    rng = np.random.default_rng(seed)
    domain = tnx.ColoredHyperGraph()
    for rank in (1, 2):
        for _ in range(12):
            domain.add_cell(sorted(rng.choice(12, int(rng.integers(2, 6)), replace=False).tolist()), rank=rank)
    return domain


SET_COMPLEXES = {
    "combinatorial": ("combinatorial", combinatorial_complex),
    "combinatorial_random": ("combinatorial", lambda: random_combinatorial_complex(1)),
    "hypergraph_small": ("hypergraph", lambda: colored_hypergraph(2)),
    "hypergraph_random": ("hypergraph", lambda: colored_hypergraph(3)),
}


@pytest.mark.parametrize("source", SET_COMPLEXES)
def test_set_complex_neighborhoods_equal_toponetx(source):
    kind, build = SET_COMPLEXES[source]
    domain = build()
    ours = from_toponetx(domain)
    assert ours.kind == kind
    top = ours.max_rank
    for r in range(top + 1):
        for s in range(r + 1, top + 1):
            for name in (f"incidence_{r}_{s}", f"adjacency_{r}_{s}", f"coadjacency_{s}_{r}"):
                assert_same_matrix(ours.matrix(name), toponetx_matrix(domain, kind, name))


def test_features_follow_toponetx_cell_order():
    domain = tnx.datasets.karate_club("cell")
    ours = from_toponetx(domain, {0: "node_feat", 1: "edge_feat", 2: "cell_feat"})
    edge_features = domain.get_cell_attributes("edge_feat", 1)
    expected = np.array([edge_features[tuple(edge)] for edge in domain.edges])
    assert np.array_equal(ours.features[1].numpy(), expected.astype(np.float32))
    assert ours.features[2].shape == (domain.shape[2], 2)


def test_refuses_other_types():
    with pytest.raises(TypeError, match="TopoNetX SimplicialComplex"):
        from_toponetx(nx.karate_club_graph())
