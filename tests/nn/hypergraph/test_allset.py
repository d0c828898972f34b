"""AllSet: TopoModelX state_dicts load and give its outputs; 3 ranks equal 1, dropout on too."""

import pytest
import torch

from tests.distributed.harness import run_on_ranks
from tests.nn.hypergraph.test_uni import HYPERGRAPHS, assert_hypergraph_models_part_equal_whole
from tests.nn.partitioned import random_features
from tests.reference import relative_error
from topodist.nn.hypergraph.allset import AllSet

VARIANTS = [
    {"mlp_activation": torch.nn.ReLU},
    {"mlp_activation": torch.nn.Tanh, "mlp_num_layers": 3, "mlp_norm": torch.nn.LayerNorm},
    {"mlp_activation": torch.nn.ReLU, "mlp_num_layers": 1},
]


@pytest.mark.parametrize("hypergraph_name", sorted(HYPERGRAPHS))
@pytest.mark.parametrize(("in_channels", "hidden", "variant"), [(3, 4, 0), (8, 16, 1), (5, 6, 2)])
def test_loads_topomodelx_weights_and_matches_its_outputs(topomodelx, hypergraph_name, in_channels, hidden, variant):
    from topomodelx.nn.hypergraph.allset import AllSet as ReferenceAllSet

    complex_ = HYPERGRAPHS[hypergraph_name]()
    torch.manual_seed(0)
    reference = ReferenceAllSet(in_channels, hidden, n_layers=2, **VARIANTS[variant]).eval()
    torch.manual_seed(0)
    ours = AllSet(in_channels, hidden, n_layers=2, **VARIANTS[variant]).eval()
    for (name, expected), got in zip(reference.state_dict().items(), ours.state_dict().values(), strict=True):
        assert torch.equal(got, expected), f"{name}: same seed, same initial weights"
    ours.load_state_dict(reference.state_dict(), strict=True)
    incidence = complex_.neighborhood("incidence_1")
    x = random_features(complex_, {0: in_channels})[0]
    for got, expected in zip(ours(x, incidence), reference(x, incidence), strict=True):
        assert relative_error(got, expected) <= 1e-5


def test_the_default_activation_is_relu(topomodelx):
    from topomodelx.nn.hypergraph.allset import AllSet as ReferenceAllSet

    with pytest.raises(TypeError):  # 0.0.1 calls mlp_activation=None
        ReferenceAllSet(3, 4)
    complex_ = HYPERGRAPHS["icosphere"]()
    torch.manual_seed(0)
    reference = ReferenceAllSet(3, 4, mlp_activation=torch.nn.ReLU).eval()
    ours = AllSet(3, 4).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = random_features(complex_, {0: 3})[0]
    incidence = complex_.neighborhood("incidence_1")
    assert relative_error(ours(x, incidence)[0], reference(x, incidence)[0]) <= 1e-5


def same_model_on_a_part(rank, world_size):
    makers = (
        lambda: AllSet(3, 4, mlp_norm=torch.nn.LayerNorm).eval(),
        lambda: AllSet(3, 4, layer_dropout=0.3, mlp_dropout=0.2).train(),
    )
    assert_hypergraph_models_part_equal_whole(rank, world_size, makers)


def test_three_ranks_equal_one_with_dropout_on():
    run_on_ranks(same_model_on_a_part, 3)
