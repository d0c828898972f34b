"""HSN: TopoModelX state_dicts load and give TopoModelX's outputs; partitioned runs equal one rank."""

import pytest
import torch

from tests.distributed.harness import assert_parameter_gradients_sum_to, run_on_ranks
from tests.reference import relative_error
from topodist.data.datasets import icosphere_mesh, random_geometric_complex
from topodist.distributed import PartitionedComplex
from topodist.nn.simplicial.hsn import HSN
from topodist.partition import assign_cells, build_shards

COMPLEXES = {"rgg": lambda: random_geometric_complex(80, 0.2, seed=3), "icosphere": lambda: icosphere_mesh(1)}


@pytest.mark.parametrize("complex_name", sorted(COMPLEXES))
@pytest.mark.parametrize("channels", [3, 8])
def test_loads_topomodelx_weights_and_matches_its_outputs(topomodelx, complex_name, channels):
    from topomodelx.nn.simplicial.hsn import HSN as ReferenceHSN

    complex_ = COMPLEXES[complex_name]()
    torch.manual_seed(0)
    reference = ReferenceHSN(channels, n_layers=2).eval()
    ours = HSN(channels, n_layers=2).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    x_0 = torch.randn(complex_.n_cells[0], channels, generator=torch.Generator().manual_seed(1))
    incidence_1 = complex_.neighborhood("incidence_1")
    adjacency_0 = complex_.neighborhood("adjacency_0")
    expected = reference(x_0, incidence_1, adjacency_0)
    assert relative_error(ours(x_0, incidence_1, adjacency_0), expected) <= 1e-5


def same_model_on_a_part(rank, world_size):
    complex_ = random_geometric_complex(80, 0.2, seed=3)
    names = ["incidence_1", "incidence_1.T", "adjacency_0"]
    shard = build_shards(complex_, assign_cells(complex_, world_size, "metis"), names, world_size)[rank]
    part = PartitionedComplex(shard, dtype=torch.float64)
    torch.manual_seed(0)
    model = HSN(4).double()
    x_0 = torch.randn(complex_.n_cells[0], 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    rows = torch.from_numpy(shard.owned_cells[0])
    whole_x = x_0.clone().requires_grad_()
    whole = model(whole_x, complex_.neighborhood("incidence_1", dtype=torch.float64),
                  complex_.neighborhood("adjacency_0", dtype=torch.float64))
    (whole ** 2).sum().backward()
    expected_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    part_x = x_0[rows].clone().requires_grad_()
    out = model(part_x, part.neighborhood("incidence_1"), part.neighborhood("adjacency_0"))
    (out ** 2).sum().backward()
    assert relative_error(out, whole[rows]) <= 1e-10
    assert relative_error(part_x.grad, whole_x.grad[rows]) <= 1e-10
    assert_parameter_gradients_sum_to(model, expected_grads, 1e-10)


def test_three_ranks_equal_one():
    run_on_ranks(same_model_on_a_part, 3)
