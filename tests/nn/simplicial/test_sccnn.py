"""SCCNN: TopoModelX state_dicts load and give TopoModelX's outputs; 3 ranks equal 1."""

import pytest
import torch

from tests.distributed.harness import run_on_ranks
from tests.nn.partitioned import assert_part_equals_whole, random_features
from tests.reference import relative_error
from topodist.data.datasets import icosphere_mesh, random_geometric_complex
from topodist.nn.simplicial.sccnn import SCCNN
from topodist.nn.simplicial.sccnn_layer import SCCNNLayer

COMPLEXES = {
    "rgg": lambda: random_geometric_complex(80, 0.2, seed=3),
    "rgg3": lambda: random_geometric_complex(60, 0.25, max_rank=3, seed=3),
    "icosphere": lambda: icosphere_mesh(1),
}
LAPLACIANS = {
    2: ["hodge_laplacian_0", "down_laplacian_1", "up_laplacian_1", "hodge_laplacian_2"],
    3: ["hodge_laplacian_0", "down_laplacian_1", "up_laplacian_1", "down_laplacian_2", "up_laplacian_2"],
}
INCIDENCES = ["incidence_1", "incidence_2"]


def inputs(complex_, widths, sc_order, dtype=torch.float32):
    x = random_features(complex_, dict(enumerate(widths)), dtype)
    laplacians = [complex_.neighborhood(name, dtype=dtype) for name in LAPLACIANS[sc_order]]
    return (x[0], x[1], x[2]), laplacians, [complex_.neighborhood(name, dtype=dtype) for name in INCIDENCES]


@pytest.mark.parametrize(("widths", "hidden"), [((3, 4, 5), (4, 4, 4)), ((8, 6, 4), (16, 16, 16))])
@pytest.mark.parametrize(
    ("complex_name", "sc_order", "aggr_norm", "update_func"),
    # sc_order 3 reads up_laplacian_2: a clique complex with tetrahedra
    [("rgg", 2, False, None), ("icosphere", 2, False, None), ("rgg3", 3, True, "sigmoid"), ("icosphere", 2, True, "relu")],
)
def test_loads_topomodelx_weights_and_matches_its_outputs(topomodelx, complex_name, widths, hidden, sc_order, aggr_norm, update_func):
    from topomodelx.nn.simplicial.sccnn import SCCNN as ReferenceSCCNN

    complex_ = COMPLEXES[complex_name]()
    torch.manual_seed(0)
    arguments = {"conv_order": 2, "sc_order": sc_order, "aggr_norm": aggr_norm, "update_func": update_func, "n_layers": 2}
    reference = ReferenceSCCNN(widths, hidden, **arguments).eval()
    ours = SCCNN(widths, hidden, **arguments).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    x, laplacians, incidences = inputs(complex_, widths, sc_order)
    for got, expected in zip(ours(x, laplacians, incidences), reference(x, laplacians, incidences), strict=True):
        assert relative_error(got, expected) <= 1e-5


def test_draws_topomodelx_initial_weights(topomodelx):
    from topomodelx.nn.simplicial.sccnn_layer import SCCNNLayer as ReferenceLayer

    torch.manual_seed(3)
    reference = ReferenceLayer((2, 3, 4), (5, 6, 7), 2, 3)
    torch.manual_seed(3)
    ours = SCCNNLayer((2, 3, 4), (5, 6, 7), 2, 3)
    for (name, expected), got in zip(reference.state_dict().items(), ours.state_dict().values(), strict=True):
        assert torch.equal(got, expected), name


def test_rejects_what_topomodelx_fails_on_late():
    with pytest.raises(ValueError, match="update_func='tanh'"):
        SCCNNLayer((2, 2, 2), (2, 2, 2), 1, 2, update_func="tanh")
    with pytest.raises(ValueError, match="sc_order=1"):
        SCCNNLayer((2, 2, 2), (2, 2, 2), 1, 1)


def same_model_on_a_part(rank, world_size):
    names = LAPLACIANS[3] + INCIDENCES + [f"{name}.T" for name in INCIDENCES]

    def forward(model, x, neighborhood):
        laplacians = [neighborhood(name) for name in LAPLACIANS[3]]
        out = model((x[0], x[1], x[2]), laplacians, [neighborhood(name) for name in INCIDENCES])
        return list(enumerate(out))

    assert_part_equals_whole(
        rank, world_size, COMPLEXES["rgg3"](), names, {0: 3, 1: 4, 2: 2},
        lambda: SCCNN((3, 4, 2), (4, 4, 4), conv_order=2, sc_order=3, aggr_norm=True, update_func="sigmoid"),
        forward,
    )


def test_three_ranks_equal_one():
    run_on_ranks(same_model_on_a_part, 3)
