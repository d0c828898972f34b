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


def test_subsampling_and_other_aggregations_are_refused():
    with pytest.raises(ValueError, match="alpha=3"):
        HyperSAGELayer(2, 2, alpha=3)
    from topodist.base.aggregation import Aggregation

    with pytest.raises(TypeError, match="GeneralizedMean"):
        HyperSAGELayer(2, 2, aggr_func_intra=Aggregation())


def same_model_on_a_part(rank, world_size):
    complex_ = faces_as_hyperedges(random_geometric_complex(80, 0.25, seed=3))

    def forward(model, x, neighborhood):
        return [(0, model(x[0], neighborhood("incidence_1")))]

    assert_part_equals_whole(
        rank, world_size, complex_, ["incidence_1", "incidence_1.T"], {0: 3}, lambda: HyperSAGE(3, 4), forward
    )


def test_three_ranks_equal_one():
    run_on_ranks(same_model_on_a_part, 3)
