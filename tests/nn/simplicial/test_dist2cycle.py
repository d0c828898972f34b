"""Dist2Cycle: TopoModelX's layer on one device (state_dicts, outputs); the paper's layer, exact on 3 ranks."""

import numpy as np
import pytest
import torch

from tests.distributed.harness import run_on_ranks
from tests.nn.partitioned import assert_part_equals_whole, random_features
from tests.reference import relative_error
from topodist.data.datasets import icosphere_mesh, random_geometric_complex
from topodist.distributed import PartitionedComplex
from topodist.nn.simplicial.dist2cycle import Dist2Cycle
from topodist.partition import assign_cells, build_shards

COMPLEXES = {"rgg": lambda: random_geometric_complex(30, 0.3, seed=3), "icosphere": lambda: icosphere_mesh(0)}
NAMES = ["inverse_shifted_down_laplacian_1", "adjacency_1"]


def dense_inputs(complex_):
    """What TopoModelX's Dist2Cycle test passes: the dense pseudo-inverse and the dense adjacency."""
    down = complex_.matrix("down_laplacian_1").toarray()
    inverse = np.linalg.pinv(down + np.eye(down.shape[0]))
    return torch.tensor(inverse, dtype=torch.float32), torch.tensor(complex_.matrix("adjacency_1").toarray(), dtype=torch.float32)


@pytest.mark.parametrize("complex_name", sorted(COMPLEXES))
@pytest.mark.parametrize("n_layers", [1, 2])
def test_loads_topomodelx_weights_and_matches_its_outputs(topomodelx, complex_name, n_layers):
    from topomodelx.nn.simplicial.dist2cycle import Dist2Cycle as ReferenceDist2Cycle

    complex_ = COMPLEXES[complex_name]()
    channels = complex_.n_cells[1]  # TopoModelX 0.0.1's layer only runs with channels == n_edges
    torch.manual_seed(0)
    reference = ReferenceDist2Cycle(channels, n_layers=n_layers).eval()
    ours = Dist2Cycle(channels, n_layers=n_layers).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    inverse, adjacency = dense_inputs(complex_)
    x = random_features(complex_, {1: channels})[1]
    expected = reference(x, inverse, adjacency)
    assert relative_error(ours(x, inverse, adjacency), expected) <= 1e-5
    # the sparse inverse on the adjacency pattern gives the same product
    sparse = [complex_.neighborhood(name) for name in NAMES]
    assert relative_error(ours(x, *sparse), expected) <= 1e-5


def test_paper_layer_propagates_the_features():
    complex_ = COMPLEXES["rgg"]()
    inverse, adjacency = (complex_.neighborhood(name, dtype=torch.float64) for name in NAMES)
    torch.manual_seed(0)
    model = Dist2Cycle(4, n_layers=1, reproduce_topomodelx=False).double()
    x = random_features(complex_, {1: 4}, torch.float64)[1]
    dense_inverse, dense_adjacency = (m.to(torch.float64) for m in dense_inputs(complex_))
    layer = model.layers[0].fc_neigh
    expected = torch.relu(layer((dense_adjacency * dense_inverse) @ x))
    assert relative_error(model(x, inverse, adjacency), expected) <= 1e-5


def partitioned_topomodelx_mode_is_refused(rank, world_size):
    complex_ = COMPLEXES["rgg"]()
    shard = build_shards(complex_, assign_cells(complex_, world_size, "metis"), NAMES, world_size)[rank]
    part = PartitionedComplex(shard)
    model = Dist2Cycle(complex_.n_cells[1])
    x = torch.zeros(len(shard.owned_cells[1]), complex_.n_cells[1])
    with pytest.raises(ValueError, match="cannot run on a partitioned complex; use reproduce_topomodelx=False"):
        model(x, *[part.neighborhood(name) for name in NAMES])


def same_model_on_a_part(rank, world_size):
    def forward(model, x, neighborhood):
        return [(1, model(x[1], *[neighborhood(name) for name in NAMES]))]

    assert_part_equals_whole(
        rank, world_size, random_geometric_complex(80, 0.2, seed=3), NAMES, {1: 3},
        lambda: Dist2Cycle(3, n_layers=2, reproduce_topomodelx=False), forward,
    )
    partitioned_topomodelx_mode_is_refused(rank, world_size)


def test_three_ranks_equal_one():
    run_on_ranks(same_model_on_a_part, 3)
