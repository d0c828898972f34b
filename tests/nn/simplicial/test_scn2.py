"""SCN2: TopoModelX state_dicts load and give TopoModelX's outputs; 3 ranks equal 1."""

import pytest
import torch

from tests.distributed.harness import assert_parameter_gradients_sum_to, run_on_ranks
from tests.reference import relative_error
from topodist.data.datasets import icosphere_mesh, random_geometric_complex
from topodist.distributed import PartitionedComplex
from topodist.nn.simplicial.scn2 import SCN2
from topodist.partition import assign_cells, build_shards

COMPLEXES = {"rgg": lambda: random_geometric_complex(80, 0.2, seed=3), "icosphere": lambda: icosphere_mesh(1)}
LAPLACIANS = [f"sym_normalized_hodge_laplacian_{k}" for k in range(3)]


def features(complex_, widths, dtype=torch.float32):
    generator = torch.Generator().manual_seed(1)
    return [torch.randn(complex_.n_cells[k], w, generator=generator, dtype=dtype) for k, w in enumerate(widths)]


@pytest.mark.parametrize("complex_name", sorted(COMPLEXES))
@pytest.mark.parametrize("widths", [(3, 4, 5), (8, 8, 8)])
def test_loads_topomodelx_weights_and_matches_its_outputs(topomodelx, complex_name, widths):
    from topomodelx.nn.simplicial.scn2 import SCN2 as ReferenceSCN2

    complex_ = COMPLEXES[complex_name]()
    torch.manual_seed(0)
    reference = ReferenceSCN2(*widths, n_layers=2).eval()
    ours = SCN2(*widths, n_layers=2).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    laplacians = [complex_.neighborhood(name) for name in LAPLACIANS]
    x = features(complex_, widths)
    for got, expected in zip(ours(*x, *laplacians), reference(*x, *laplacians), strict=True):
        assert relative_error(got, expected) <= 1e-5


def same_model_on_a_part(rank, world_size):
    complex_ = random_geometric_complex(80, 0.2, seed=3)
    shard = build_shards(complex_, assign_cells(complex_, world_size, "metis"), LAPLACIANS, world_size)[rank]
    part = PartitionedComplex(shard, dtype=torch.float64)
    torch.manual_seed(0)
    model = SCN2(3, 4, 5).double()
    x = features(complex_, (3, 4, 5), torch.float64)
    rows = [torch.from_numpy(shard.owned_cells[k]) for k in range(3)]
    whole_x = [v.clone().requires_grad_() for v in x]
    whole = model(*whole_x, *[complex_.neighborhood(n, dtype=torch.float64) for n in LAPLACIANS])
    sum((out ** 2).sum() for out in whole).backward()
    expected_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    part_x = [v[r].clone().requires_grad_() for v, r in zip(x, rows, strict=True)]
    out = model(*part_x, *[part.neighborhood(n) for n in LAPLACIANS])
    sum((o ** 2).sum() for o in out).backward()
    for k in range(3):
        assert relative_error(out[k], whole[k][rows[k]]) <= 1e-10
        assert relative_error(part_x[k].grad, whole_x[k].grad[rows[k]]) <= 1e-10
    assert_parameter_gradients_sum_to(model, expected_grads, 1e-10)


def test_three_ranks_equal_one():
    run_on_ranks(same_model_on_a_part, 3)
