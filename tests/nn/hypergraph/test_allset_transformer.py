"""AllSetTransformer: TopoModelX state_dicts load and give its outputs (without torch_geometric); 3 ranks equal 1."""

import warnings

import pytest
import torch

from tests.conftest import _require
from tests.distributed.harness import run_on_ranks
from tests.nn.hypergraph.test_uni import HYPERGRAPHS, assert_hypergraph_models_part_equal_whole, faces_as_hyperedges
from tests.nn.partitioned import random_features
from tests.reference import relative_error
from topodist.data.datasets import random_geometric_complex
from topodist.nn.hypergraph.allset_transformer import AllSetTransformer
from topodist.nn.hypergraph.allset_transformer_layer import MultiHeadAttention

VARIANTS = [{}, {"n_layers": 2, "heads": 2, "mlp_num_layers": 3, "mlp_norm": torch.nn.LayerNorm}]


@pytest.mark.parametrize("hypergraph_name", sorted(HYPERGRAPHS))
@pytest.mark.parametrize(("in_channels", "hidden", "variant"), [(3, 4, 0), (8, 16, 1)])
def test_loads_topomodelx_weights_and_matches_its_outputs(topomodelx, hypergraph_name, in_channels, hidden, variant):
    with warnings.catch_warnings():  # torch_geometric's import scripts functions with the deprecated torch.jit
        warnings.simplefilter("ignore", DeprecationWarning)
        _require("torch_geometric", "TOPODIST_REQUIRE_TOPOMODELX")  # TopoModelX's layer imports its softmax
        from topomodelx.nn.hypergraph.allset_transformer import AllSetTransformer as Reference

    complex_ = HYPERGRAPHS[hypergraph_name]()
    torch.manual_seed(0)
    reference = Reference(in_channels, hidden, **VARIANTS[variant]).eval()
    torch.manual_seed(0)
    ours = AllSetTransformer(in_channels, hidden, **VARIANTS[variant]).eval()
    for (name, expected), got in zip(reference.state_dict().items(), ours.state_dict().values(), strict=True):
        assert torch.equal(got, expected), f"{name}: same seed, same initial weights"
    ours.load_state_dict(reference.state_dict(), strict=True)
    incidence = complex_.neighborhood("incidence_1")
    x = random_features(complex_, {0: in_channels})[0]
    for got, expected in zip(ours(x, incidence), reference(x, incidence), strict=True):
        assert relative_error(got, expected) <= 1e-5


def test_attention_is_a_softmax_over_each_targets_sources():
    complex_ = faces_as_hyperedges(random_geometric_complex(20, 0.4, seed=1))
    to_edges = complex_.neighborhood("incidence_1", dtype=torch.float64).transpose(1, 0)
    torch.manual_seed(0)
    attention = MultiHeadAttention(3, 2, heads=2).double()
    attention.reset_parameters()
    x = random_features(complex_, {0: 3}, torch.float64)[0]
    member = to_edges.to_dense() != 0
    x.requires_grad_()
    expected = []
    for head in range(2):
        scores = torch.nn.functional.leaky_relu(x @ attention.K_weight[head] @ attention.Q_weight[head, 0], 0.2)
        weights = torch.softmax(torch.where(member, scores.unsqueeze(0), -torch.inf), dim=1)
        expected.append(weights @ (x @ attention.V_weight[head]))
    expected = torch.stack(expected, dim=1)
    got = attention(x, to_edges)
    assert relative_error(got, expected) <= 1e-12
    outer = torch.randn_like(got)
    inputs = (x, attention.K_weight, attention.Q_weight, attention.V_weight)
    for ours, reference in zip(torch.autograd.grad((got * outer).sum(), inputs),
                               torch.autograd.grad((expected * outer).sum(), inputs), strict=True):
        assert relative_error(ours, reference) <= 1e-12


def test_attention_gathers_scores_per_entry_but_not_values(monkeypatch):
    complex_ = faces_as_hyperedges(random_geometric_complex(20, 0.4, seed=1))
    to_edges = complex_.neighborhood("incidence_1").transpose(1, 0)
    attention = MultiHeadAttention(3, 16, heads=2)  # 16 channels per head: no other size here
    x = random_features(complex_, {0: 3})[0].requires_grad_()
    gathered = []
    index_select = torch.Tensor.index_select

    def recording(tensor, *args):
        gathered.append(tuple(tensor.shape))
        return index_select(tensor, *args)

    monkeypatch.setattr(torch.Tensor, "index_select", recording)
    attention(x, to_edges).sum().backward()
    assert gathered and all(16 not in shape for shape in gathered), gathered  # per entry: the scores alone


def test_more_than_one_query_is_refused():
    with pytest.raises(ValueError, match="number_queries=2"):
        MultiHeadAttention(3, 2, number_queries=2)


def same_model_on_a_part(rank, world_size):
    makers = (
        lambda: AllSetTransformer(3, 4, n_layers=2, heads=2).eval(),
        lambda: AllSetTransformer(3, 4, dropout=0.3, mlp_dropout=0.2).train(),
    )
    assert_hypergraph_models_part_equal_whole(rank, world_size, makers)


def test_three_ranks_equal_one_with_dropout_on():
    run_on_ranks(same_model_on_a_part, 3)
