"""CWN and CCXN: TopoModelX state_dicts load and give its outputs on cell complexes; 3 ranks equal 1."""

import pytest
import torch

from tests.distributed.harness import run_on_ranks
from tests.nn.partitioned import assert_part_equals_whole, random_features
from tests.reference import relative_error
from topodist.data.datasets import cell_torus, icosphere_mesh
from topodist.nn.cell.ccxn import CCXN
from topodist.nn.cell.ccxn_layer import CCXNLayer
from topodist.nn.cell.cwn import CWN
from topodist.ops import activations

COMPLEXES = {"cell_torus": lambda: cell_torus(9, 6), "icosphere": lambda: icosphere_mesh(1)}
CWN_NAMES = ["adjacency_1", "incidence_2", "incidence_1.T"]
CCXN_NAMES = ["adjacency_0", "incidence_2.T"]


@pytest.fixture(params=["torch", "kernel"])
def elu_path(request, monkeypatch) -> tuple[str, list]:
    """CWN's ELUs through torch (these complexes are small), or all through the compiled kernel; its calls."""
    calls = []
    if request.param == "kernel":
        if not activations._HAS_NUMBA:
            pytest.skip("the compiled ELU needs numba")
        monkeypatch.setattr(activations, "MIN_ELEMENTS", 1)
        values = activations._elu_values
        monkeypatch.setattr(activations, "_elu_values", lambda x, alpha: calls.append(x.shape) or values(x, alpha))
    return request.param, calls


@pytest.mark.parametrize("complex_name", sorted(COMPLEXES))
@pytest.mark.parametrize(("widths", "hidden"), [((3, 2, 2), 4), ((5, 6, 7), 16)])
def test_cwn_loads_topomodelx_weights_and_matches_its_outputs(topomodelx, complex_name, widths, hidden, elu_path):
    from topomodelx.nn.cell.cwn import CWN as Reference

    complex_ = COMPLEXES[complex_name]()
    torch.manual_seed(0)
    reference = Reference(*widths, hidden, n_layers=2).eval()
    torch.manual_seed(0)
    ours = CWN(*widths, hidden, n_layers=2).eval()
    for (name, expected), got in zip(reference.state_dict().items(), ours.state_dict().values(), strict=True):
        assert torch.equal(got, expected), f"{name}: same seed, same initial weights"
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = random_features(complex_, dict(enumerate(widths)))
    neighborhoods = [complex_.neighborhood(name) for name in CWN_NAMES]
    for got, expected in zip(
        ours(x[0], x[1], x[2], *neighborhoods), reference(x[0], x[1], x[2], *neighborhoods), strict=True
    ):
        assert relative_error(got, expected) <= 1e-5
    path, calls = elu_path
    assert len(calls) == (3 + 2 * 4 if path == "kernel" else 0)  # the three projections, four ELUs per layer


@pytest.mark.parametrize("complex_name", sorted(COMPLEXES))
@pytest.mark.parametrize(("widths", "att"), [((3, 2, 2), False), ((5, 6, 7), False), ((4, 4, 4), True)])
def test_ccxn_loads_topomodelx_weights_and_matches_its_outputs(topomodelx, complex_name, widths, att):
    from topomodelx.nn.cell.ccxn import CCXN as Reference
    from topomodelx.nn.cell.ccxn_layer import CCXNLayer as ReferenceLayer

    complex_ = COMPLEXES[complex_name]()
    x = random_features(complex_, dict(enumerate(widths)))
    adjacency, to_faces = (complex_.neighborhood(name) for name in CCXN_NAMES)
    torch.manual_seed(0)
    if att:  # TopoModelX's model never gives the faces to the attention; the layer, given them, is right
        reference, ours = ReferenceLayer(*widths, att=True).eval(), CCXNLayer(*widths, att=True).eval()
        inputs = (x[0], x[1], adjacency, to_faces, x[2])
    else:
        reference, ours = Reference(*widths, n_layers=2).eval(), CCXN(*widths, n_layers=2).eval()
        inputs = (x[0], x[1], adjacency, to_faces)
    ours.load_state_dict(reference.state_dict(), strict=True)
    for got, expected in zip(ours(*inputs), reference(*inputs), strict=True):
        assert relative_error(got, expected) <= 1e-5


def test_ccxn_face_attention_without_face_features_is_refused():
    complex_ = cell_torus(4, 3)
    x = random_features(complex_, {0: 3, 1: 3})
    with pytest.raises(ValueError, match="pass x_target"):
        CCXN(3, 3, 3, att=True)(
            x[0], x[1], complex_.neighborhood("adjacency_0"), complex_.neighborhood("incidence_2.T")
        )


def same_models_on_a_part(rank, world_size):
    complex_ = cell_torus(9, 7)

    def forward_cwn(model, x, neighborhood):
        return list(enumerate(model(x[0], x[1], x[2], *(neighborhood(name) for name in CWN_NAMES))))

    def forward_ccxn(model, x, neighborhood):
        return list(enumerate(model(x[0], x[1], *(neighborhood(name) for name in CCXN_NAMES))))

    names = sorted(set(CWN_NAMES + CCXN_NAMES))
    widths = {0: 3, 1: 2, 2: 4}
    assert_part_equals_whole(
        rank, world_size, complex_, names, widths, lambda: CWN(3, 2, 4, 5, n_layers=2), forward_cwn
    )
    assert_part_equals_whole(rank, world_size, complex_, names, widths, lambda: CCXN(3, 2, 4), forward_ccxn)


def test_three_ranks_equal_one():
    run_on_ranks(same_models_on_a_part, 3)
