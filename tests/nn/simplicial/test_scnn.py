"""SCNN: TopoModelX state_dicts load and give TopoModelX's outputs; 3 ranks equal 1; the corrected mode."""

import pytest
import torch

from tests.distributed.harness import run_on_ranks
from tests.nn.partitioned import assert_part_equals_whole, random_features
from tests.reference import relative_error
from topodist.data.datasets import icosphere_mesh, random_geometric_complex
from topodist.nn.simplicial.scnn import SCNN
from topodist.nn.simplicial.scnn_layer import SCNNLayer

COMPLEXES = {"rgg": lambda: random_geometric_complex(80, 0.2, seed=3), "icosphere": lambda: icosphere_mesh(1)}
LAPLACIANS = ["down_laplacian_1", "up_laplacian_1"]


@pytest.mark.parametrize("complex_name", sorted(COMPLEXES))
@pytest.mark.parametrize(("in_channels", "hidden"), [(3, 4), (8, 16)])
@pytest.mark.parametrize(("aggr_norm", "update_func"), [(False, None), (True, "sigmoid"), (True, "relu")])
def test_loads_topomodelx_weights_and_matches_its_outputs(topomodelx, complex_name, in_channels, hidden, aggr_norm, update_func):
    from topomodelx.nn.simplicial.scnn import SCNN as ReferenceSCNN

    complex_ = COMPLEXES[complex_name]()
    torch.manual_seed(0)
    reference = ReferenceSCNN(in_channels, hidden, 2, 3, aggr_norm=aggr_norm, update_func=update_func, n_layers=3).eval()
    ours = SCNN(in_channels, hidden, 2, 3, aggr_norm=aggr_norm, update_func=update_func, n_layers=3).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    laplacians = [complex_.neighborhood(name) for name in LAPLACIANS]
    x = random_features(complex_, {1: in_channels})[1]
    assert relative_error(ours(x, *laplacians), reference(x, *laplacians)) <= 1e-5


@pytest.mark.parametrize(("down", "up"), [(0, 2), (3, 0)])
def test_one_sided_filters_match_topomodelx(topomodelx, down, up):
    from topomodelx.nn.simplicial.scnn_layer import SCNNLayer as ReferenceLayer

    complex_ = COMPLEXES["rgg"]()
    torch.manual_seed(0)
    reference = ReferenceLayer(4, 5, down, up)
    ours = SCNNLayer(4, 5, down, up)
    ours.load_state_dict(reference.state_dict(), strict=True)
    laplacians = [complex_.neighborhood(name) for name in LAPLACIANS]
    x = random_features(complex_, {1: 4})[1]
    assert relative_error(ours(x, *laplacians), reference(x, *laplacians)) <= 1e-5


def test_corrected_mode_normalizes_every_power_and_configures_the_first_layer():
    complex_ = COMPLEXES["icosphere"]()
    down, up = (complex_.neighborhood(name, dtype=torch.float64) for name in LAPLACIANS)
    torch.manual_seed(0)
    model = SCNN(3, 4, 1, 1, aggr_norm=True, update_func="relu", n_layers=1, reproduce_topomodelx=False).double()
    x = random_features(complex_, {1: 3}, torch.float64)[1]
    weight = model.layers[0].weight

    def normalized(laplacian):
        degree = torch.sparse.sum(laplacian, dim=1).to_dense().unsqueeze(-1)
        assert (degree == 0).any()  # signed Laplacians: rows that sum to 0 must give 0, not NaN
        return torch.where(degree != 0, (laplacian @ x) / degree.where(degree != 0, 1), 0)

    expected = torch.relu(x @ weight[..., 0] + normalized(down) @ weight[..., 1] + normalized(up) @ weight[..., 2])
    assert relative_error(model(x, down, up), expected) <= 1e-12
    # the default keeps TopoModelX's first layer: no normalization, no update
    plain = SCNN(3, 4, 1, 1, aggr_norm=True, update_func="relu", n_layers=1).double()
    plain.load_state_dict(model.state_dict())
    expected_plain = x @ weight[..., 0] + (down @ x) @ weight[..., 1] + (up @ x) @ weight[..., 2]
    assert relative_error(plain(x, down, up), expected_plain) <= 1e-12


def test_rejects_update_functions_it_cannot_apply():
    with pytest.raises(ValueError, match="update_func='tanh'"):
        SCNNLayer(2, 2, 1, 1, update_func="tanh")


def same_model_on_a_part(rank, world_size):
    def forward(model, x, neighborhood):
        return [(1, model(x[1], *[neighborhood(name) for name in LAPLACIANS]))]

    assert_part_equals_whole(
        rank, world_size, random_geometric_complex(80, 0.2, seed=3), LAPLACIANS, {1: 3},
        lambda: SCNN(3, 4, 2, 2, aggr_norm=True, update_func="sigmoid", n_layers=2, reproduce_topomodelx=False),
        forward,
    )


def test_three_ranks_equal_one():
    run_on_ranks(same_model_on_a_part, 3)
