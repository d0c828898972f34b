"""SCCN: TopoModelX state_dicts load and give TopoModelX's outputs; 3 ranks equal 1."""

import pytest
import torch

from tests.distributed.harness import run_on_ranks
from tests.nn.partitioned import assert_part_equals_whole, random_features
from tests.reference import relative_error
from topodist.data.datasets import icosphere_mesh, random_geometric_complex
from topodist.nn.simplicial.sccn import SCCN

COMPLEXES = {"rgg": lambda: random_geometric_complex(80, 0.2, seed=3), "icosphere": lambda: icosphere_mesh(1)}


def arguments(neighborhood, max_rank=2):
    incidences = {f"rank_{r}": neighborhood(f"incidence_{r}") for r in range(1, max_rank + 1)}
    adjacencies = {f"rank_{r}": neighborhood(f"adjacency_{r}" if r < max_rank else f"coadjacency_{r}") for r in range(max_rank + 1)}
    return incidences, adjacencies


@pytest.mark.parametrize("complex_name", sorted(COMPLEXES))
@pytest.mark.parametrize("channels", [4, 16])
@pytest.mark.parametrize("update_func", ["sigmoid", "tanh"])
def test_loads_topomodelx_weights_and_matches_its_outputs(topomodelx, complex_name, channels, update_func):
    from topomodelx.nn.simplicial.sccn import SCCN as ReferenceSCCN

    complex_ = COMPLEXES[complex_name]()
    torch.manual_seed(0)
    reference = ReferenceSCCN(channels, max_rank=2, n_layers=2, update_func=update_func).eval()
    ours = SCCN(channels, max_rank=2, n_layers=2, update_func=update_func).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = {f"rank_{k}": v for k, v in random_features(complex_, dict.fromkeys(range(3), channels)).items()}
    expected = reference(x, *arguments(complex_.neighborhood))
    got = ours(x, *arguments(complex_.neighborhood))
    for key in expected:
        assert relative_error(got[key], expected[key]) <= 1e-5


def same_model_on_a_part(rank, world_size):
    names = ["incidence_1", "incidence_2", "incidence_1.T", "incidence_2.T", "adjacency_0", "adjacency_1", "coadjacency_2"]

    def forward(model, x, neighborhood):
        out = model({f"rank_{k}": v for k, v in x.items()}, *arguments(neighborhood))
        return [(k, out[f"rank_{k}"]) for k in range(3)]

    assert_part_equals_whole(
        rank, world_size, random_geometric_complex(80, 0.2, seed=3), names, dict.fromkeys(range(3), 4),
        lambda: SCCN(4, max_rank=2), forward,
    )


def test_three_ranks_equal_one():
    run_on_ranks(same_model_on_a_part, 3)
