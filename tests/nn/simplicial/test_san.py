"""SAN: TopoModelX state_dicts load and give TopoModelX's outputs; 3 ranks equal 1 (attention powers and harmonic filter)."""

import pytest
import torch

from tests.distributed.harness import run_on_ranks
from tests.nn.partitioned import assert_part_equals_whole, random_features
from tests.reference import relative_error
from topodist.data.datasets import icosphere_mesh, random_geometric_complex
from topodist.nn.simplicial.san import SAN
from topodist.nn.simplicial.san_layer import SANLayer

COMPLEXES = {"rgg": lambda: random_geometric_complex(80, 0.2, seed=3), "icosphere": lambda: icosphere_mesh(1)}
LAPLACIANS = ["up_laplacian_1", "down_laplacian_1"]


@pytest.mark.parametrize("complex_name", sorted(COMPLEXES))
@pytest.mark.parametrize(("in_channels", "hidden", "out", "n_filters", "n_layers"), [(3, 4, None, 2, 2), (8, 16, 2, 3, 3)])
def test_loads_topomodelx_weights_and_matches_its_outputs(topomodelx, complex_name, in_channels, hidden, out, n_filters, n_layers):
    from topomodelx.nn.simplicial.san import SAN as ReferenceSAN

    complex_ = COMPLEXES[complex_name]()
    arguments = {"out_channels": out, "n_filters": n_filters, "n_layers": n_layers}
    torch.manual_seed(0)
    reference = ReferenceSAN(in_channels, hidden, **arguments).eval()
    torch.manual_seed(0)
    ours = SAN(in_channels, hidden, **arguments).eval()
    for (name, expected), got in zip(reference.state_dict().items(), ours.state_dict().values(), strict=True):
        assert torch.equal(got, expected), f"{name}: same seed, same initial weights"
    laplacians = [complex_.neighborhood(name) for name in LAPLACIANS]
    x = random_features(complex_, {1: in_channels})[1]
    assert relative_error(ours(x, *laplacians), reference(x, *laplacians)) <= 1e-5


def test_layer_takes_topomodelx_dense_projection(topomodelx):
    from topomodelx.nn.simplicial.san import SAN as ReferenceSAN

    complex_ = COMPLEXES["icosphere"]()
    up, down = (complex_.neighborhood(name) for name in LAPLACIANS)
    projection = ReferenceSAN(3, 4).compute_projection_matrix(up + down)
    assert projection.layout == torch.strided
    layer = SANLayer(3, 4)
    x = random_features(complex_, {1: 3})[1]
    operator = SAN(3, 4).compute_projection_matrix(up + down)
    assert relative_error(layer(x, up, down, projection), layer(x, up, down, operator)) <= 1e-5


def same_model_on_a_part(rank, world_size):
    def forward(model, x, neighborhood):
        return [(1, model(x[1], *[neighborhood(name) for name in LAPLACIANS]))]

    assert_part_equals_whole(
        rank, world_size, random_geometric_complex(80, 0.2, seed=3), LAPLACIANS, {1: 3},
        lambda: SAN(3, 4, n_filters=3, order_harmonic=3), forward,
    )


def test_three_ranks_equal_one():
    run_on_ranks(same_model_on_a_part, 3)
