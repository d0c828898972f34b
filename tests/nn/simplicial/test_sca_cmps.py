"""SCACMPS: TopoModelX state_dicts load and give TopoModelX's outputs; 3 ranks equal 1 (its sum over all cells included)."""

import pytest
import torch

from tests.distributed.harness import run_on_ranks
from tests.nn.partitioned import assert_part_equals_whole, random_features
from tests.reference import relative_error
from topodist.data.datasets import icosphere_mesh, random_geometric_complex
from topodist.nn.simplicial.sca_cmps import SCACMPS

COMPLEXES = {"rgg": lambda: random_geometric_complex(80, 0.2, seed=3), "icosphere": lambda: icosphere_mesh(1)}
DOWN = ["down_laplacian_1", "down_laplacian_2"]
INCIDENCES_T = ["incidence_1.T", "incidence_2.T"]


def neighborhoods(neighborhood):
    return [neighborhood(name) for name in DOWN], [neighborhood(name) for name in INCIDENCES_T]


@pytest.mark.parametrize("complex_name", sorted(COMPLEXES))
@pytest.mark.parametrize("widths", [(3, 4, 5), (16, 16, 16)])
def test_loads_topomodelx_weights_and_matches_its_outputs(topomodelx, complex_name, widths):
    from topomodelx.nn.simplicial.sca_cmps import SCACMPS as ReferenceSCACMPS

    complex_ = COMPLEXES[complex_name]()
    torch.manual_seed(0)
    reference = ReferenceSCACMPS(list(widths), complex_dim=3, n_layers=2).eval()
    ours = SCACMPS(list(widths), complex_dim=3, n_layers=2).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = list(random_features(complex_, dict(enumerate(widths))).values())
    scale = 0.1  # keep the sigmoid of the global context away from saturation, so the comparison means something
    x = [v * scale for v in x]
    got = ours(x, *neighborhoods(complex_.neighborhood))
    expected = reference(list(x), *neighborhoods(complex_.neighborhood))
    for ours_k, reference_k in zip(got, expected, strict=True):
        assert relative_error(ours_k, reference_k) <= 1e-5


def test_attention_through_an_incidence_needs_target_features():
    complex_ = COMPLEXES["icosphere"]()
    model = SCACMPS([3, 3, 3], complex_dim=3, att=True)
    x = list(random_features(complex_, dict.fromkeys(range(3), 3)).values())
    with pytest.raises(ValueError, match="att=True without x_target needs a square neighborhood"):
        model(x, *neighborhoods(complex_.neighborhood))


def same_model_on_a_part(rank, world_size):
    def forward(model, x, neighborhood):
        out = model([x[0], x[1] * 0.3, x[2] * 0.3], *neighborhoods(neighborhood))
        return [(1, out[1]), (2, out[2])]

    names = DOWN + INCIDENCES_T
    assert_part_equals_whole(
        rank, world_size, random_geometric_complex(80, 0.2, seed=3), names, {0: 3, 1: 4, 2: 5},
        lambda: SCACMPS([3, 4, 5], complex_dim=3), forward,
    )


def test_three_ranks_equal_one():
    run_on_ranks(same_model_on_a_part, 3)
