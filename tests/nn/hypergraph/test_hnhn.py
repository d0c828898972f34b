"""HNHN: TopoModelX state_dicts load and give its outputs; no dense matrix; 3 ranks equal 1, dropout on too."""

import pytest
import torch

from tests.distributed.harness import run_on_ranks
from tests.nn.hypergraph.test_uni import HYPERGRAPHS, assert_hypergraph_models_part_equal_whole, faces_as_hyperedges
from tests.nn.partitioned import random_features
from tests.reference import relative_error
from topodist.data.datasets import random_geometric_complex
from topodist.data.hypergraphs import hypergraph
from topodist.nn.hypergraph.hnhn import HNHN

VARIANTS = [{}, {"alpha": -1.0, "beta": 0.5, "bias_init": "xavier_normal"}, {"use_normalized_incidence": False}]


@pytest.mark.parametrize("hypergraph_name", sorted(HYPERGRAPHS))
@pytest.mark.parametrize(("in_channels", "hidden", "variant"), [(3, 4, 0), (8, 16, 1), (5, 6, 2)])
def test_loads_topomodelx_weights_and_matches_its_outputs(topomodelx, hypergraph_name, in_channels, hidden, variant):
    from topomodelx.nn.hypergraph.hnhn import HNHN as ReferenceHNHN

    complex_ = HYPERGRAPHS[hypergraph_name]()
    incidence = complex_.neighborhood("incidence_1")
    torch.manual_seed(0)
    reference = ReferenceHNHN(in_channels, hidden, incidence, n_layers=2, **VARIANTS[variant]).eval()
    torch.manual_seed(0)
    ours = HNHN(in_channels, hidden, incidence, n_layers=2, **VARIANTS[variant]).eval()
    for (name, expected), got in zip(reference.state_dict().items(), ours.state_dict().values(), strict=True):
        assert torch.equal(got, expected), f"{name}: same seed, same initial weights"
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = random_features(complex_, {0: in_channels})[0]
    for got, expected in zip(ours(x), reference(x), strict=True):  # the constructor's incidence
        assert relative_error(got, expected) <= 1e-5
    for got, expected in zip(ours(x, incidence), reference(x, incidence), strict=True):
        assert relative_error(got, expected) <= 1e-5


def test_normalization_is_the_papers_and_never_densifies(monkeypatch):
    complex_ = faces_as_hyperedges(random_geometric_complex(30, 0.35, seed=2))
    dense = complex_.neighborhood("incidence_1", dtype=torch.float64).to_dense()
    torch.manual_seed(0)
    model = HNHN(3, 4, n_layers=1, alpha=-1.5, beta=-0.5).double().eval()
    x = random_features(complex_, {0: 3}, torch.float64)[0]
    layer = model.layers[0]
    edge_w, node_w = dense.sum(0) ** -1.5, dense.sum(1) ** -0.5
    to_edges = (dense.T * node_w) / (dense.T @ node_w).unsqueeze(1)  # rows sum to 1
    to_nodes = (dense * edge_w) / (dense @ edge_w).unsqueeze(1)
    x_1 = to_edges @ x @ layer.conv_0_to_1.weight + layer.bias_0_to_1
    x_0 = to_nodes @ x_1 @ layer.conv_1_to_0.weight + layer.bias_1_to_0

    to_dense = torch.Tensor.to_dense

    def refuse_matrices(tensor, *args, **kwargs):
        assert tensor.dim() < 2, "densified a matrix"
        return to_dense(tensor, *args, **kwargs)

    incidence = complex_.neighborhood("incidence_1", dtype=torch.float64)
    monkeypatch.setattr(torch.Tensor, "to_dense", refuse_matrices)
    got_0, got_1 = model(x, incidence)
    assert relative_error(got_1, torch.relu(x_1)) <= 1e-12
    assert relative_error(got_0, torch.relu(x_0)) <= 1e-12


def test_an_isolated_node_gets_zeros_not_nan():
    complex_ = hypergraph([[0, 1, 2], [1, 2, 3]], 5)  # node 4 is in no hyperedge
    torch.manual_seed(0)
    model = HNHN(2, 3, use_bias=False).eval()
    x_0, x_1 = model(torch.randn(5, 2), complex_.neighborhood("incidence_1"))
    assert torch.isfinite(x_0).all() and torch.isfinite(x_1).all()
    assert (x_0[4] == 0).all()


def same_model_on_a_part(rank, world_size):
    makers = (lambda: HNHN(3, 4).eval(), lambda: HNHN(3, 4, layer_drop=0.4, alpha=-1.0).train())
    assert_hypergraph_models_part_equal_whole(rank, world_size, makers)


def test_three_ranks_equal_one_with_dropout_on():
    run_on_ranks(same_model_on_a_part, 3)
