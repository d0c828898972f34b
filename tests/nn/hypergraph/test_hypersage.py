"""HyperSAGE: TopoModelX's outputs without its per-cell Python loops; exact on 3 ranks (the norm over all nodes too)."""

import pytest
import torch

from tests.distributed.harness import run_on_ranks
from tests.nn.hypergraph.test_uni import HYPERGRAPHS, faces_as_hyperedges
from tests.nn.partitioned import assert_part_equals_whole, random_features
from tests.reference import relative_error
from topodist.data.datasets import random_geometric_complex
from topodist.nn.hypergraph.hypersage import HyperSAGE
from topodist.nn.hypergraph.hypersage_layer import HyperSAGELayer


@pytest.mark.parametrize("hypergraph_name", sorted(HYPERGRAPHS))
@pytest.mark.parametrize(("in_channels", "hidden", "update_func"), [(3, 4, "relu"), (8, 16, "sigmoid")])
def test_loads_topomodelx_weights_and_matches_its_outputs(topomodelx, hypergraph_name, in_channels, hidden, update_func):
    from topomodelx.nn.hypergraph.hypersage import HyperSAGE as ReferenceHyperSAGE

    complex_ = HYPERGRAPHS[hypergraph_name]()
    torch.manual_seed(0)
    reference = ReferenceHyperSAGE(in_channels, hidden, n_layers=2, update_func=update_func).eval()
    torch.manual_seed(0)
    ours = HyperSAGE(in_channels, hidden, n_layers=2, update_func=update_func).eval()
    for (name, expected), got in zip(reference.state_dict().items(), ours.state_dict().values(), strict=True):
        assert torch.equal(got, expected), f"{name}: same seed, same initial weights"
    incidence = complex_.neighborhood("incidence_1")
    x = random_features(complex_, {0: in_channels})[0]
    assert relative_error(ours(x, incidence), reference(x, incidence)) <= 1e-5


def test_isolated_nodes_get_no_message_instead_of_nan():
    from topodist.data.hypergraphs import hypergraph

    complex_ = hypergraph([[0, 1], [1, 2, 3]], n_nodes=5)  # node 4 is in no hyperedge
    out = HyperSAGELayer(2, 3)(torch.randn(5, 2), complex_.neighborhood("incidence_1"))
    assert torch.isfinite(out).all()


def test_other_aggregations_and_empty_samples_are_refused():
    with pytest.raises(ValueError, match="alpha=0"):
        HyperSAGELayer(2, 2, alpha=0)
    from topodist.base.aggregation import Aggregation

    with pytest.raises(TypeError, match="GeneralizedMean"):
        HyperSAGELayer(2, 2, aggr_func_intra=Aggregation())


def test_subsampling_keeps_a_uniform_subset_of_each_hyperedge():
    from topodist.data.hypergraphs import hypergraph
    from topodist.distributed.sampling import sample_row_entries

    members = [list(range(6)), [1, 2], [0, 3, 4, 5]]
    to_edges = hypergraph(members, n_nodes=6).neighborhood("incidence_1").transpose(1, 0).coalesce()
    torch.manual_seed(0)
    counts = torch.zeros(6)
    for _ in range(600):
        kept = sample_row_entries(to_edges, 3).to_dense()
        assert torch.equal(kept.sum(1), torch.tensor([3.0, 2.0, 3.0]))  # min(|e|, alpha) nodes
        assert ((kept != 0) <= (to_edges.to_dense() != 0)).all()  # members only
        counts += kept[0]
    assert ((counts / 600 - 0.5).abs() < 0.08).all()  # each of the 6 nodes in about half the samples


def test_subsampling_matches_the_layer_on_the_sampled_hypergraph():
    complex_ = faces_as_hyperedges(random_geometric_complex(40, 0.3, seed=1))
    incidence = complex_.neighborhood("incidence_1", dtype=torch.float64)
    torch.manual_seed(0)
    sampled = HyperSAGELayer(3, 4, alpha=2).double()
    x = torch.randn(complex_.n_cells[0], 3, dtype=torch.float64)
    torch.manual_seed(5)
    got = sampled(x, incidence)
    from topodist.distributed.sampling import sample_row_entries

    torch.manual_seed(5)
    to_edges = sample_row_entries(incidence.transpose(1, 0), 2).to_dense()
    dense = incidence.to_dense()
    size = to_edges.sum(1, keepdim=True)
    edge_means = torch.sqrt((to_edges @ x**2) / size)
    node_means = torch.sqrt((dense @ (size * edge_means) ** 2) / dense.sum(1, keepdim=True) / (dense @ size) ** 2)
    message = x + node_means
    assert relative_error(got, torch.relu(message / message.norm() @ sampled.weight)) <= 1e-12


def same_model_on_a_part(rank, world_size):
    complex_ = faces_as_hyperedges(random_geometric_complex(80, 0.25, seed=3))

    def forward(model, x, neighborhood):
        torch.manual_seed(11)  # the same subsample on every rank and on the whole hypergraph
        return [(0, model(x[0], neighborhood("incidence_1")))]

    for make in (lambda: HyperSAGE(3, 4), lambda: HyperSAGE(3, 4, alpha=2)):
        assert_part_equals_whole(rank, world_size, complex_, ["incidence_1", "incidence_1.T"], {0: 3}, make, forward)


def test_three_ranks_equal_one():
    run_on_ranks(same_model_on_a_part, 3)
