"""SCConv: TopoModelX state_dicts load and give TopoModelX's outputs; 3 ranks equal 1."""

import pytest
import torch

from tests.distributed.harness import run_on_ranks
from tests.nn.partitioned import assert_part_equals_whole, random_features
from tests.reference import relative_error
from topodist.data.datasets import icosphere_mesh, random_geometric_complex
from topodist.nn.simplicial.scconv import SCConv

COMPLEXES = {"rgg": lambda: random_geometric_complex(80, 0.2, seed=3), "icosphere": lambda: icosphere_mesh(1)}
# SCConv reads incidence_1.T, incidence_1_norm.T, ...: pass each in the orientation that targets the right cells;
# unsigned incidences stand for the normalized ones
NEIGHBORHOODS = [
    "incidence_1.T", "incidence_1_unsigned", "incidence_2.T", "incidence_2_unsigned",
    "kipf_adjacency_0", "kipf_adjacency_1", "kipf_coadjacency_1", "kipf_coadjacency_2",
]


@pytest.mark.parametrize("complex_name", sorted(COMPLEXES))
@pytest.mark.parametrize("widths", [(3, 4, 5), (16, 16, 16)])
def test_loads_topomodelx_weights_and_matches_its_outputs(topomodelx, complex_name, widths):
    from topomodelx.nn.simplicial.scconv import SCConv as ReferenceSCConv

    complex_ = COMPLEXES[complex_name]()
    torch.manual_seed(0)
    reference = ReferenceSCConv(*widths, n_layers=2).eval()
    ours = SCConv(*widths, n_layers=2).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = random_features(complex_, dict(enumerate(widths)))
    neighborhoods = [complex_.neighborhood(name) for name in NEIGHBORHOODS]
    for got, expected in zip(ours(*x.values(), *neighborhoods), reference(*x.values(), *neighborhoods), strict=True):
        assert relative_error(got, expected) <= 1e-5


def same_model_on_a_part(rank, world_size):
    transposes = [name.removesuffix(".T") if name.endswith(".T") else f"{name}.T" for name in NEIGHBORHOODS[:4]]

    def forward(model, x, neighborhood):
        return list(enumerate(model(x[0], x[1], x[2], *[neighborhood(name) for name in NEIGHBORHOODS])))

    assert_part_equals_whole(
        rank, world_size, random_geometric_complex(80, 0.2, seed=3), NEIGHBORHOODS + transposes, {0: 3, 1: 4, 2: 5},
        lambda: SCConv(3, 4, 5), forward,
    )


def test_three_ranks_equal_one():
    run_on_ranks(same_model_on_a_part, 3)
