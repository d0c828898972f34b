"""UniGCN, UniSAGE, UniGIN: TopoModelX state_dicts load and give its outputs; 3 ranks equal 1, dropout on too."""

import pytest
import torch

from tests.distributed.harness import run_on_ranks
from tests.nn.partitioned import assert_part_equals_whole, random_features
from tests.reference import relative_error
from topodist.data.datasets import icosphere_mesh, random_geometric_complex
from topodist.data.hypergraphs import hypergraph
from topodist.nn.hypergraph.unigcn import UniGCN
from topodist.nn.hypergraph.unigcn_layer import UniGCNLayer
from topodist.nn.hypergraph.unigin import UniGIN
from topodist.nn.hypergraph.unigin_layer import UniGINLayer
from topodist.nn.hypergraph.unisage import UniSAGE


def faces_as_hyperedges(complex_):
    """A hypergraph without isolated nodes (TopoModelX drops trailing ones): the triangles of a complex."""
    return hypergraph(complex_.cells[2].tolist(), complex_.n_cells[0])


HYPERGRAPHS = {
    "icosphere": lambda: faces_as_hyperedges(icosphere_mesh(1)),
    "rgg": lambda: faces_as_hyperedges(random_geometric_complex(60, 0.3, seed=4)),
}
MODELS = {
    "unigcn": (UniGCN, "topomodelx.nn.hypergraph.unigcn", "UniGCN", [{}, {"aggr_norm": True, "use_bn": True}]),
    "unisage": (UniSAGE, "topomodelx.nn.hypergraph.unisage", "UniSAGE", [{}, {"e_aggr": "mean", "use_norm": True}]),
    "unigin": (
        UniGIN, "topomodelx.nn.hypergraph.unigin", "UniGIN", [{}, {"train_eps": True, "eps": 0.3, "use_norm": True}]
    ),
}


@pytest.mark.parametrize("model_name", sorted(MODELS))
@pytest.mark.parametrize("hypergraph_name", sorted(HYPERGRAPHS))
@pytest.mark.parametrize(("in_channels", "hidden", "variant"), [(3, 4, 0), (8, 16, 1)])
def test_loads_topomodelx_weights_and_matches_its_outputs(topomodelx, model_name, hypergraph_name, in_channels, hidden, variant):
    import importlib

    ours_class, module, name, variants = MODELS[model_name]
    reference_class = getattr(importlib.import_module(module), name)
    complex_ = HYPERGRAPHS[hypergraph_name]()
    assert not (torch.sparse.sum(complex_.neighborhood("incidence_1"), dim=1).to_dense() == 0).any()
    torch.manual_seed(0)
    reference = reference_class(in_channels, hidden, n_layers=2, **variants[variant]).eval()
    ours = ours_class(in_channels, hidden, n_layers=2, **variants[variant]).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    incidence = complex_.neighborhood("incidence_1")
    x = random_features(complex_, {0: in_channels})[0]
    for got, expected in zip(ours(x, incidence), reference(x, incidence), strict=True):
        assert relative_error(got, expected) <= 1e-5


def test_unigin_transposes_the_incidence_without_densifying(monkeypatch):
    complex_ = HYPERGRAPHS["icosphere"]()
    incidence = complex_.neighborhood("incidence_1")

    def refuse(*args, **kwargs):
        raise AssertionError("densified")

    monkeypatch.setattr(torch.Tensor, "to_dense", refuse)
    UniGIN(3, 4)(random_features(complex_, {0: 3})[0], incidence)


LAYERS_WITHOUT_HYPEREDGES = {  # (layer, its input width)
    "unigcn, widths differ": (lambda: UniGCNLayer(3, 4), 3),
    "unigcn, same widths": (lambda: UniGCNLayer(4, 4), 4),
    "unigin": (lambda: UniGINLayer(4, eps=0.3, train_eps=True), 4),
}


@pytest.mark.parametrize(("make", "in_channels"), LAYERS_WITHOUT_HYPEREDGES.values(),
                         ids=LAYERS_WITHOUT_HYPEREDGES.keys())
def test_layers_without_hyperedge_features_give_the_same_nodes_and_gradients(make, in_channels):
    complex_ = HYPERGRAPHS["rgg"]()
    incidence = complex_.neighborhood("incidence_1", dtype=torch.float64)
    torch.manual_seed(0)
    layer = make().double()
    x = random_features(complex_, {0: in_channels}, dtype=torch.float64)[0]
    outputs, gradients = [], []
    for hyperedges in (True, False):
        layer.zero_grad()
        x_0 = x.clone().requires_grad_()
        nodes, hyperedge_features = layer(x_0, incidence, hyperedges=hyperedges)
        assert (hyperedge_features is None) == (not hyperedges)
        nodes.pow(2).sum().backward()
        outputs.append(nodes)
        gradients.append([x_0.grad] + [parameter.grad for parameter in layer.parameters()])
    assert relative_error(outputs[1], outputs[0]) <= 1e-10
    for got, expected in zip(gradients[1], gradients[0], strict=True):
        assert relative_error(got, expected) <= 1e-10


@pytest.mark.parametrize(("make", "to_hyperedges"), [(lambda: UniGCN(3, 4, n_layers=3), "conv_level1_0_to_1"),
                                                      (lambda: UniGIN(3, 4, n_layers=3), "vertex2edge")])
def test_models_skip_the_hyperedge_features_of_all_but_their_last_layer(monkeypatch, make, to_hyperedges):
    complex_ = HYPERGRAPHS["icosphere"]()
    model = make()
    convolved = []
    for i, layer in enumerate(model.layers):
        conv = getattr(layer, to_hyperedges)
        monkeypatch.setattr(conv, "forward", lambda *args, i=i, original=conv.forward: convolved.append(i) or original(*args))
    x_0, x_1 = model(random_features(complex_, {0: 3})[0], complex_.neighborhood("incidence_1"))
    assert convolved == [2] and x_1.shape == (complex_.n_cells[1], 4)


def assert_hypergraph_models_part_equal_whole(rank, world_size, makers, complex_=None):
    """Each ``model(x_0, incidence_1) -> (x_0, x_1)`` on this rank's part equals it on the whole hypergraph.

    Seeded before each call: dropout draws the same keys on every rank and on the whole hypergraph.
    """
    complex_ = faces_as_hyperedges(random_geometric_complex(80, 0.25, seed=3)) if complex_ is None else complex_

    def forward(model, x, neighborhood):
        torch.manual_seed(11)
        x_0, x_1 = model(x[0], neighborhood("incidence_1"))
        return [(0, x_0), (1, x_1)]

    for make in makers:
        assert_part_equals_whole(rank, world_size, complex_, ["incidence_1", "incidence_1.T"], {0: 3}, make, forward)


def same_models_on_a_part(rank, world_size):
    makers = (
        lambda: UniGCN(3, 4),  # the first layer through B B^T: assembled on the whole, two factors on a part
        lambda: UniGCN(3, 4, aggr_norm=True),
        lambda: UniGCN(3, 4, use_bn=True).train(),  # batch statistics over the hyperedges of every part
        lambda: UniSAGE(3, 4, input_drop=0.3, layer_drop=0.2, e_aggr="mean", use_norm=True).train(),
        lambda: UniGIN(3, 4, layer_drop=0.5, train_eps=True).train(),
    )
    assert_hypergraph_models_part_equal_whole(rank, world_size, makers)


def test_three_ranks_equal_one_with_dropout_on():
    run_on_ranks(same_models_on_a_part, 3)
