"""HyperGAT: TopoModelX's (attention-less) outputs by default; the paper's attention as a flag; both exact on 3 ranks."""

import pytest
import torch

from tests.distributed.harness import run_on_ranks
from tests.nn.hypergraph.test_uni import HYPERGRAPHS, assert_hypergraph_models_part_equal_whole, faces_as_hyperedges
from tests.nn.partitioned import random_features
from tests.reference import relative_error
from topodist.data.datasets import random_geometric_complex
from topodist.nn.hypergraph.hypergat import HyperGAT
from topodist.nn.hypergraph.hypergat_layer import HyperGATLayer


@pytest.mark.parametrize("hypergraph_name", sorted(HYPERGRAPHS))
@pytest.mark.parametrize(("in_channels", "hidden", "update_func"), [(3, 4, "relu"), (8, 16, "sigmoid")])
def test_loads_topomodelx_weights_and_matches_its_outputs(topomodelx, hypergraph_name, in_channels, hidden, update_func):
    from topomodelx.nn.hypergraph.hypergat import HyperGAT as ReferenceHyperGAT

    complex_ = HYPERGRAPHS[hypergraph_name]()
    assert complex_.n_cells[1] >= complex_.n_cells[0]  # TopoModelX reads hyperedge rows at node ids
    torch.manual_seed(0)
    reference = ReferenceHyperGAT(in_channels, hidden, n_layers=2, update_func=update_func).eval()
    torch.manual_seed(0)
    ours = HyperGAT(in_channels, hidden, n_layers=2, update_func=update_func).eval()
    for (name, expected), got in zip(reference.state_dict().items(), ours.state_dict().values(), strict=True):
        assert torch.equal(got, expected), f"{name}: same seed, same initial weights"
    incidence = complex_.neighborhood("incidence_1")
    x = random_features(complex_, {0: in_channels})[0]
    for got, expected in zip(ours(x, incidence), reference(x, incidence), strict=True):
        assert relative_error(got, expected) <= 1e-5


def test_corrected_attention_follows_the_paper():
    complex_ = faces_as_hyperedges(random_geometric_complex(20, 0.4, seed=1))
    incidence = complex_.neighborhood("incidence_1", dtype=torch.float64).to_dense()
    torch.manual_seed(0)
    layer = HyperGATLayer(3, 4, reproduce_topomodelx=False).double()
    x = random_features(complex_, {0: 3}, torch.float64)[0]
    h = x @ layer.weight1
    leaky = torch.nn.functional.leaky_relu
    member = incidence != 0
    node_scores = (leaky(h) @ layer.att_weight1).squeeze(-1)  # one score per node, softmaxed within each hyperedge
    alpha = torch.softmax(torch.where(member.T, node_scores.unsqueeze(0), -torch.inf), dim=1)
    x_1 = torch.relu(alpha @ h)
    g = x_1 @ layer.weight2
    a_edge, a_node = layer.att_weight2[:4, 0], layer.att_weight2[4:, 0]
    pair = leaky(torch.cat([g.unsqueeze(0).expand(len(h), -1, -1), h.unsqueeze(1).expand(-1, len(g), -1)], -1))
    pair_scores = pair @ torch.cat([a_edge, a_node])
    beta = torch.softmax(torch.where(member, pair_scores, -torch.inf), dim=1)
    x_0 = torch.relu(torch.nan_to_num(beta) @ g)
    got_0, got_1 = layer(x, complex_.neighborhood("incidence_1", dtype=torch.float64))
    assert relative_error(got_1, x_1) <= 1e-12
    assert relative_error(got_0, x_0) <= 1e-12
    # the default, TopoModelX's layer: every attention weight is 1
    layer.reproduce_topomodelx = True
    plain_0, plain_1 = layer(x, complex_.neighborhood("incidence_1", dtype=torch.float64))
    assert relative_error(plain_1, torch.relu(incidence.T @ h)) <= 1e-12
    assert relative_error(plain_0, torch.relu(incidence @ (plain_1 @ layer.weight2))) <= 1e-12
    assert relative_error(plain_0, got_0) > 1e-3


def same_models_on_a_part(rank, world_size):
    makers = (
        lambda: HyperGAT(3, 4, layer_drop=0.3, reproduce_topomodelx=True).train(),
        lambda: HyperGAT(3, 4, layer_drop=0.3, reproduce_topomodelx=False).train(),
    )
    assert_hypergraph_models_part_equal_whole(rank, world_size, makers)


def test_three_ranks_equal_one_with_and_without_attention():
    run_on_ranks(same_models_on_a_part, 3)
