"""SCoNe: TopoModelX state_dicts load and give TopoModelX's outputs; 3 ranks equal 1."""

import pytest
import torch

from tests.distributed.harness import run_on_ranks
from tests.nn.partitioned import assert_part_equals_whole, random_features
from tests.reference import relative_error
from topodist.data.datasets import icosphere_mesh, random_geometric_complex
from topodist.nn.simplicial.scone import SCoNe

COMPLEXES = {"rgg": lambda: random_geometric_complex(80, 0.2, seed=3), "icosphere": lambda: icosphere_mesh(1)}
INCIDENCES = ["incidence_1", "incidence_2"]


@pytest.mark.parametrize("complex_name", sorted(COMPLEXES))
@pytest.mark.parametrize(("in_channels", "hidden"), [(1, 4), (8, 16)])
def test_loads_topomodelx_weights_and_matches_its_outputs(topomodelx, complex_name, in_channels, hidden):
    from topomodelx.nn.simplicial.scone import SCoNe as ReferenceSCoNe

    complex_ = COMPLEXES[complex_name]()
    torch.manual_seed(0)
    reference = ReferenceSCoNe(in_channels, hidden, n_layers=3).eval()
    torch.manual_seed(0)
    ours = SCoNe(in_channels, hidden, n_layers=3).eval()
    for (name, expected), got in zip(reference.state_dict().items(), ours.state_dict().values(), strict=True):
        assert torch.equal(got, expected), f"{name}: same seed, same initial weights"
    ours.load_state_dict(reference.state_dict(), strict=True)
    incidences = [complex_.neighborhood(name) for name in INCIDENCES]
    x = random_features(complex_, {1: in_channels})[1]
    assert relative_error(ours(x, *incidences), reference(x, *incidences)) <= 1e-5


def same_model_on_a_part(rank, world_size):
    def forward(model, x, neighborhood):
        return [(1, model(x[1], *[neighborhood(name) for name in INCIDENCES]))]

    names = INCIDENCES + [f"{name}.T" for name in INCIDENCES]
    assert_part_equals_whole(
        rank, world_size, random_geometric_complex(80, 0.2, seed=3), names, {1: 3}, lambda: SCoNe(3, 4, 2), forward
    )


def test_three_ranks_equal_one():
    run_on_ranks(same_model_on_a_part, 3)
