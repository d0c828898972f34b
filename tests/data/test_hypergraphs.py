"""Hypergraphs equal TopoNetX's colored hypergraphs and refuse bad hyperedges by position."""

import numpy as np
import pytest
import toponetx as tnx

from tests.data.toponetx_reference import assert_same_matrix, toponetx_matrix
from topodist.data import hypergraph


def test_hypergraph_equals_colored_hypergraph():
    hyperedges = [[0, 1, 2], [1, 3], [2, 3, 4, 5], [5, 6]]
    ours = hypergraph(hyperedges)
    same_from_csr = hypergraph((np.array([0, 3, 5, 9, 11]), np.array(sum(hyperedges, []))))
    domain = tnx.ColoredHyperGraph()
    for edge in hyperedges:
        domain.add_cell(edge, rank=1)
    for name in ("incidence_0_1", "adjacency_0_1", "coadjacency_1_0"):
        assert_same_matrix(ours.matrix(name), toponetx_matrix(domain, "hypergraph", name))
        assert_same_matrix(same_from_csr.matrix(name), ours.matrix(name))


@pytest.mark.parametrize(
    ("hyperedges", "message"),
    [
        ([[0, 1], []], "hyperedge 1 is empty"),
        ([[0, 1], [2, 3, 2]], r"hyperedge 1 lists a node twice: \[2, 3, 2\]"),
        ([], "the hypergraph is empty"),
        ([[0, 1], [2, [3, 4]]], r"hyperedge 1 = \[2, \[3, 4\]\] holds something other"),
        ([[0, 1], [2.5, 3]], "hyperedge 1 .* holds something other than integer"),
        ([[0, 1], 7], "hyperedge 1 must be a sequence of node ids"),
    ],
)
def test_bad_hyperedges_are_named(hyperedges, message):
    with pytest.raises(ValueError, match=message):
        hypergraph(hyperedges)
