"""HMPNN: TopoModelX state_dicts load and give its outputs, in eval and (dropout off) training mode; 3 ranks equal 1."""

import pytest
import torch

from tests.distributed.harness import run_on_ranks
from tests.nn.hypergraph.test_uni import HYPERGRAPHS, faces_as_hyperedges
from tests.nn.partitioned import assert_part_equals_whole, random_features
from tests.reference import relative_error
from topodist.data.datasets import random_geometric_complex
from topodist.nn.hypergraph.hmpnn import HMPNN
from topodist.nn.hypergraph.hmpnn_layer import aggregate_over_pattern, regular_dropout


@pytest.mark.parametrize("hypergraph_name", sorted(HYPERGRAPHS))
@pytest.mark.parametrize(("in_channels", "hidden", "aggr_func"), [(3, 4, "sum"), (8, 16, "mean")])
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_loads_topomodelx_weights_and_matches_its_outputs(
    topomodelx, hypergraph_name, in_channels, hidden, aggr_func, mode
):
    from topomodelx.nn.hypergraph.hmpnn import HMPNN as ReferenceHMPNN

    complex_ = HYPERGRAPHS[hypergraph_name]()
    torch.manual_seed(0)
    # updating_dropout = 1 keeps every entry: training mode runs batch statistics without random masks
    options = {"aggr_func": aggr_func, "regular_dropout_rate": 1.0 if mode == "train" else 0.5}
    reference = ReferenceHMPNN(in_channels, hidden, **options).train(mode == "train")
    torch.manual_seed(0)
    ours = HMPNN(in_channels, hidden, **options).train(mode == "train")
    for (name, expected), got in zip(reference.state_dict().items(), ours.state_dict().values(), strict=True):
        assert torch.equal(got, expected), f"{name}: same seed, same initial weights"
    incidence = complex_.neighborhood("incidence_1")
    x = random_features(complex_, {0: in_channels, 1: in_channels})
    for got, expected in zip(ours(x[0], x[1], incidence), reference(x[0], x[1], incidence), strict=True):
        assert relative_error(got, expected) <= 1e-5
    for (name, expected), got in zip(reference.state_dict().items(), ours.state_dict().values(), strict=True):
        assert relative_error(got.double(), expected.double()) <= 1e-5, f"{name}: running statistics"


def test_regular_dropout_keeps_with_probability_p_and_scales_rows_as_topomodelx():
    torch.manual_seed(3)
    x = torch.ones(2000, 8, dtype=torch.float64)
    out = regular_dropout(x, 0.3)
    kept = out != 0
    assert abs(kept.double().mean().item() - 0.3) < 0.01
    scale = (2 * 2000 - kept.sum(dim=1, keepdim=True).double()) / 2000
    assert relative_error(out, kept.double() * scale) <= 1e-15


@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_aggregation_over_the_pattern_is_the_pattern_matrix_product_without_a_gathered_message(monkeypatch, reduce):
    complex_ = faces_as_hyperedges(random_geometric_complex(60, 0.3, seed=4))
    to_edges = complex_.neighborhood("incidence_1", dtype=torch.float64).transpose(1, 0)
    pattern = (to_edges.to_dense() != 0).double()  # the values are not read
    if reduce == "mean":
        pattern = pattern / pattern.sum(dim=1, keepdim=True).clamp(min=1)
    x = torch.randn(complex_.n_cells[0], 3, dtype=torch.float64, requires_grad=True)
    expected = pattern @ x
    (expected_grad,) = torch.autograd.grad((expected * expected.detach()).sum(), x)
    monkeypatch.setattr(torch.Tensor, "index_select", lambda *args: pytest.fail("gathered one message per entry"))
    got = aggregate_over_pattern(x, to_edges, reduce)
    assert relative_error(got, expected) <= 1e-12
    (grad,) = torch.autograd.grad((got * expected.detach()).sum(), x)
    assert relative_error(grad, expected_grad) <= 1e-12


def test_corrected_adjacency_dropout_drops_whole_messages():
    complex_ = faces_as_hyperedges(random_geometric_complex(300, 0.12, seed=2))
    to_edges = complex_.neighborhood("incidence_1", dtype=torch.float64).transpose(1, 0)
    torch.manual_seed(0)
    ones = torch.ones(complex_.n_cells[0], 3, dtype=torch.float64)
    got = aggregate_over_pattern(ones, to_edges, "sum", entry_dropout=0.4)
    kept = got * 0.6
    assert torch.equal(kept, kept.round()) and (kept[:, :1] == kept).all()  # whole messages, scaled by 1 / (1 - p)
    total = aggregate_over_pattern(ones, to_edges, "sum")
    assert abs(kept.sum().item() / total.sum().item() - 0.6) < 0.05


def test_corrected_adjacency_dropout_acts_in_training_only():
    complex_ = HYPERGRAPHS["icosphere"]()
    incidence = complex_.neighborhood("incidence_1")
    x = random_features(complex_, {0: 3, 1: 3})
    torch.manual_seed(0)
    default = HMPNN(3, 4, regular_dropout_rate=1.0)
    corrected = HMPNN(3, 4, regular_dropout_rate=1.0, reproduce_topomodelx=False)
    corrected.load_state_dict(default.state_dict())
    for mode, same in (("eval", True), ("train", False)):
        default.train(mode == "train"), corrected.train(mode == "train")
        torch.manual_seed(3)
        a = default(x[0], x[1], incidence)[0]
        torch.manual_seed(3)
        b = corrected(x[0], x[1], incidence)[0]
        assert (relative_error(a, b) <= 1e-6) == same, mode


def same_model_on_a_part(rank, world_size):
    complex_ = faces_as_hyperedges(random_geometric_complex(80, 0.25, seed=3))
    names = ["incidence_1", "incidence_1.T"]

    def forward(model, x, neighborhood):
        torch.manual_seed(11)  # the same dropout key on every rank and on the whole hypergraph
        for layer in model.layers:
            layer.node_batchnorm.reset_running_stats()
            layer.hyperedge_batchnorm.reset_running_stats()
        x_0, x_1 = model(x[0], x[1], neighborhood("incidence_1"))
        return [(0, x_0), (1, x_1)]

    for make in (
        lambda: HMPNN(3, 4, aggr_func="mean").eval(),
        lambda: HMPNN(3, 4).train(),  # batch statistics over every part, dropout masks per global cell
        lambda: HMPNN(3, 4, adjacency_dropout_rate=0.3, reproduce_topomodelx=False).train(),
    ):
        assert_part_equals_whole(rank, world_size, complex_, names, {0: 3, 1: 3}, make, forward)


def test_three_ranks_equal_one_with_dropout_on():
    run_on_ranks(same_model_on_a_part, 3)
