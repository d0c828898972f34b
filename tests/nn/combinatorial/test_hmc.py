"""HMC: TopoModelX state_dicts load and give its outputs on combinatorial complexes; 3 ranks equal 1."""

import pytest
import torch

from tests.distributed.harness import run_on_ranks
from tests.nn.partitioned import assert_part_equals_whole, random_features
from tests.reference import relative_error
from topodist.data.datasets import combinatorial_torus
from topodist.nn.combinatorial.hmc import HMC
from topodist.nn.combinatorial.hmc_layer import HBNS, HBS

NAMES = ["adjacency_0", "adjacency_1", "coadjacency_2", "incidence_1", "incidence_2"]
LAYERS = {
    "small": [[[2, 2, 2], [3, 3, 3], [4, 4, 4]]],
    "two": [[[3, 2, 5], [4, 6, 2], [5, 3, 4]], [[5, 3, 4], [8, 8, 8], [6, 6, 6]]],
}


def _combinatorial():
    return combinatorial_torus(7, 5)


@pytest.mark.parametrize("layers", sorted(LAYERS))
@pytest.mark.parametrize("updates", [("relu", "relu"), ("tanh", "sigmoid")])
def test_loads_topomodelx_weights_and_matches_its_outputs(topomodelx, layers, updates):
    from topomodelx.nn.combinatorial.hmc import HMC as Reference

    complex_ = _combinatorial()
    channels = LAYERS[layers]
    torch.manual_seed(0)
    reference = Reference(channels, update_func_attention=updates[0], update_func_aggregation=updates[1]).eval()
    torch.manual_seed(0)
    ours = HMC(channels, update_func_attention=updates[0], update_func_aggregation=updates[1]).eval()
    for (name, expected), got in zip(reference.state_dict().items(), ours.state_dict().values(), strict=True):
        assert torch.equal(got, expected), f"{name}: same seed, same initial weights"
    x = random_features(complex_, dict(enumerate(channels[0][0])))
    neighborhoods = [complex_.neighborhood(name) for name in NAMES]
    for got, expected in zip(
        ours(x[0], x[1], x[2], *neighborhoods), reference(x[0], x[1], x[2], *neighborhoods), strict=True
    ):
        assert relative_error(got, expected) <= 1e-5


@pytest.mark.parametrize("softmax", [False, True])
def test_blocks_without_softmax_and_with_more_hops_match_topomodelx(topomodelx, softmax):
    from topomodelx.nn.combinatorial.hmc_layer import HBNS as ReferenceHBNS
    from topomodelx.nn.combinatorial.hmc_layer import HBS as ReferenceHBS

    # float64: without softmax each weight is divided by a sum of signed scores, which can nearly cancel
    complex_ = _combinatorial()
    x = random_features(complex_, {0: 3, 1: 4}, torch.float64)
    adjacency = complex_.neighborhood("adjacency_0", dtype=torch.float64)
    incidence = complex_.neighborhood("incidence_1", dtype=torch.float64)
    torch.manual_seed(0)
    reference, ours = ReferenceHBS(3, 5, softmax=softmax, m_hop=2), HBS(3, 5, softmax=softmax, m_hop=2)
    ours.load_state_dict(reference.state_dict(), strict=True)
    reference, ours = reference.double(), ours.double()
    expected = reference(x[0], adjacency.float())  # its powers start from a float32 identity
    assert relative_error(ours(x[0], adjacency), expected) <= 1e-5
    reference, ours = ReferenceHBNS(4, 2, 3, 6, softmax=softmax).double(), HBNS(4, 2, 3, 6, softmax=softmax).double()
    ours.load_state_dict(reference.state_dict(), strict=True)
    for got, expected in zip(ours(x[1], x[0], incidence), reference(x[1], x[0], incidence), strict=True):
        assert relative_error(got, expected) <= 1e-5


def test_corrected_split_scores_a_pair_alike_in_both_directions():
    complex_ = _combinatorial()
    x = random_features(complex_, {0: 3, 1: 4}, torch.float64)
    incidence = complex_.neighborhood("incidence_1", dtype=torch.float64)
    dense = incidence.to_dense()
    torch.manual_seed(0)
    block = HBNS(4, 2, 3, 5, softmax=True, reproduce_topomodelx=False).double()  # source width 2, target width 5
    s_message, t_message = x[1] @ block.w_s, x[0] @ block.w_t  # widths 5 and 2
    scores = torch.nn.functional.leaky_relu(
        (s_message @ block.att_weight[:5]).T + t_message @ block.att_weight[5:], 0.2
    )  # (targets, sources): one score per (node, edge) pair, the same in both directions
    member = dense != 0
    to_targets = torch.softmax(torch.where(member, scores, -torch.inf), dim=1) * dense
    to_sources = torch.nan_to_num(torch.softmax(torch.where(member.T, scores.T, -torch.inf), dim=1)) * dense.T
    on_source, on_target = block(x[1], x[0], incidence)
    assert relative_error(on_target, to_targets @ s_message) <= 1e-12
    assert relative_error(on_source, to_sources @ t_message) <= 1e-12
    block.reproduce_topomodelx = True
    assert relative_error(block(x[1], x[0], incidence)[0], on_source) > 1e-3


def test_inconsistent_widths_are_refused():
    with pytest.raises(ValueError, match="layer 0 outputs widths"):
        HMC([[[2, 2, 2], [3, 3, 3], [4, 4, 4]], [[5, 5, 5], [3, 3, 3], [4, 4, 4]]])


def same_model_on_a_part(rank, world_size):
    complex_ = combinatorial_torus(9, 6)
    names = NAMES + ["incidence_1.T", "incidence_2.T"]

    def forward(model, x, neighborhood):
        return list(enumerate(model(x[0], x[1], x[2], *(neighborhood(name) for name in NAMES))))

    channels = LAYERS["two"]
    widths = dict(enumerate(channels[0][0]))
    assert_part_equals_whole(rank, world_size, complex_, names, widths, lambda: HMC(channels), forward)
    corrected = lambda: HMC(channels, reproduce_topomodelx=False)  # noqa: E731
    assert_part_equals_whole(rank, world_size, complex_, names, widths, corrected, forward)


def test_three_ranks_equal_one():
    run_on_ranks(same_model_on_a_part, 3)
