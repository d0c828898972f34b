"""MessagePassing against dense formulas and against TopoModelX 0.0.1."""

import math

import pytest
import torch
from torch.nn import Parameter

from tests.reference import (
    TOLERANCE,
    dense_attention,
    dense_propagate,
    gradients,
    random_neighborhood,
    relative_error,
)
from topodist.base.message_passing import MessagePassing


def linear_layer_class(base: type) -> type:
    """A minimal trainable layer on ``base``, written as TopoModelX's tests write one."""

    class LinearMessagePassing(base):
        def __init__(self, in_channels, out_channels, aggr_func="sum", att=False, **init):
            super().__init__(aggr_func=aggr_func, att=att, **init)
            self.weight = Parameter(torch.empty(in_channels, out_channels))
            if att:
                self.att_weight = Parameter(torch.empty(2 * in_channels))
            self.reset_parameters()

        def message(self, x_source, x_target=None):
            return torch.matmul(x_source, self.weight)

    return LinearMessagePassing


LinearMessagePassing = linear_layer_class(MessagePassing)


def dense_reference(layer, x_source, neighborhood, x_target=None):
    """The layer's output computed with dense matrices only."""
    dense = neighborhood.to_dense().to(x_source.dtype)
    stored = dense != 0
    weights = dense
    if layer.att:
        targets = x_source if x_target is None else x_target
        weights = weights * dense_attention(x_source, targets, layer.att_weight)
    return dense_propagate(weights, x_source @ layer.weight, stored, layer.aggr_func)


@pytest.mark.parametrize("aggr_func", ["sum", "mean", "add"])
@pytest.mark.parametrize("att", [False, True])
@pytest.mark.parametrize("batch", [(), (3,), (2, 2)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_and_backward_match_dense_formula(scatter_backend, aggr_func, att, batch, dtype):
    torch.manual_seed(0)
    layer = LinearMessagePassing(4, 3, aggr_func=aggr_func, att=att).to(dtype)
    neighborhood = random_neighborhood(11, 8, seed=1, empty_rows=(3, 10), dtype=dtype)
    x_source = torch.randn(*batch, 8, 4, dtype=dtype, requires_grad=True)
    x_target = torch.randn(*batch, 11, 4, dtype=dtype, requires_grad=True) if att else None

    out = layer(x_source, neighborhood, x_target)
    expected = dense_reference(layer, x_source, neighborhood, x_target)
    assert out.shape == (*batch, 11, 3)
    assert relative_error(out, expected) <= TOLERANCE[dtype]
    assert torch.all(out[..., [3, 10], :] == 0)

    inputs = [x_source, *layer.parameters()] + ([x_target] if att else [])
    for got, want in zip(gradients(out, inputs), gradients(expected, inputs)):
        assert relative_error(got, want) <= TOLERANCE[dtype]


def test_attention_without_target_uses_source_features(scatter_backend):
    torch.manual_seed(0)
    layer = LinearMessagePassing(2, 2, att=True).double()
    neighborhood = random_neighborhood(6, 6, seed=2, dtype=torch.float64)
    x = torch.randn(6, 2, dtype=torch.float64)
    assert relative_error(layer(x, neighborhood), dense_reference(layer, x, neighborhood)) <= 1e-10


def test_csr_neighborhood_gives_the_coo_result(scatter_backend):
    torch.manual_seed(0)
    layer = LinearMessagePassing(3, 2, aggr_func="mean")
    neighborhood = random_neighborhood(7, 5, seed=3)
    x = torch.randn(5, 3)
    assert torch.equal(layer(x, neighborhood.to_sparse_csr()), layer(x, neighborhood))


def test_isolated_last_targets_keep_their_rows():
    torch.manual_seed(0)
    layer = LinearMessagePassing(2, 2, aggr_func="mean")
    neighborhood = random_neighborhood(6, 4, seed=4, empty_rows=(4, 5))
    out = layer(torch.randn(4, 2), neighborhood)
    assert out.shape == (6, 2)
    assert torch.all(out[4:] == 0)


@pytest.mark.parametrize("aggr_func", ["sum", "mean"])
@pytest.mark.parametrize("att", [False, True])
def test_matches_topomodelx(topomodelx, scatter_backend, aggr_func, att):
    reference_class = linear_layer_class(topomodelx.base.message_passing.MessagePassing)
    torch.manual_seed(0)
    reference = reference_class(5, 4, aggr_func=aggr_func, att=att)
    layer = LinearMessagePassing(5, 4, aggr_func=aggr_func, att=att)
    layer.load_state_dict(reference.state_dict(), strict=True)
    reference.load_state_dict(layer.state_dict(), strict=True)
    neighborhood = random_neighborhood(9, 9, seed=5)
    x = torch.randn(9, 5, requires_grad=True)

    out, expected = layer(x, neighborhood), reference(x, neighborhood)
    assert relative_error(out, expected) <= 1e-5
    for got, want in zip(
        gradients(out, [x, *layer.parameters()]), gradients(expected, [x, *reference.parameters()])
    ):
        assert relative_error(got, want) <= 1e-5


def test_topomodelx_drops_trailing_isolated_targets_and_topodist_does_not(topomodelx):
    reference_class = linear_layer_class(topomodelx.base.message_passing.MessagePassing)
    torch.manual_seed(0)
    reference = reference_class(3, 2)
    layer = LinearMessagePassing(3, 2)
    layer.load_state_dict(reference.state_dict())
    neighborhood = random_neighborhood(8, 5, seed=6, empty_rows=(6, 7))
    x = torch.randn(5, 3)
    expected, out = reference(x, neighborhood), layer(x, neighborhood)
    assert expected.shape == (6, 2) and out.shape == (8, 2)
    assert relative_error(out[:6], expected) <= 1e-5
    assert torch.all(out[6:] == 0)


@pytest.mark.parametrize("initialization", ["uniform", "xavier_uniform", "xavier_normal"])
@pytest.mark.parametrize("att", [False, True])
def test_initialization_draws_topomodelx_parameters(topomodelx, initialization, att):
    reference_class = linear_layer_class(topomodelx.base.message_passing.MessagePassing)
    torch.manual_seed(7)
    layer = LinearMessagePassing(6, 5, att=att, initialization=initialization)
    torch.manual_seed(7)
    if initialization == "uniform" and att:
        # TopoModelX 0.0.1 reads att_weight.size(1) of a 1-D parameter.
        with pytest.raises(IndexError):
            reference_class(6, 5, att=att, initialization=initialization)
        return
    reference = reference_class(6, 5, att=att, initialization=initialization)
    for name, param in reference.state_dict().items():
        assert torch.equal(layer.state_dict()[name], param), name


@pytest.mark.parametrize("gain", [1.0, 1.414])
@torch.no_grad()
def test_initialization_distributions(gain):
    torch.manual_seed(8)
    fan_in, fan_out = 300, 200
    uniform = LinearMessagePassing(fan_in, fan_out, att=True, initialization="uniform")
    assert uniform.weight.abs().max() <= 1 / math.sqrt(fan_out)
    assert uniform.att_weight.abs().max() <= 1 / math.sqrt(2 * fan_in)
    assert uniform.weight.abs().max() > 0.95 / math.sqrt(fan_out)

    xavier_uniform = LinearMessagePassing(
        fan_in, fan_out, initialization="xavier_uniform", initialization_gain=gain
    )
    bound = gain * math.sqrt(6 / (fan_in + fan_out))
    assert 0.95 * bound < xavier_uniform.weight.abs().max() <= bound

    xavier_normal = LinearMessagePassing(
        fan_in, fan_out, initialization="xavier_normal", initialization_gain=gain
    )
    std = gain * math.sqrt(2 / (fan_in + fan_out))
    assert abs(float(xavier_normal.weight.std()) / std - 1) < 0.02


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="aggr_func='max'"):
        LinearMessagePassing(2, 2, aggr_func="max")
    with pytest.raises(ValueError, match="initialization='kaiming'"):
        LinearMessagePassing(2, 2, initialization="kaiming")
    layer = LinearMessagePassing(2, 2, att=True)
    neighborhood = random_neighborhood(4, 3, seed=9)
    with pytest.raises(ValueError, match="neighborhood must be a 2-D torch sparse"):
        layer(torch.randn(3, 2), neighborhood.to_dense())
    with pytest.raises(ValueError, match=r"x_source has 4 cells .* 3 columns"):
        layer(torch.randn(4, 2), neighborhood, torch.randn(4, 2))
    with pytest.raises(ValueError, match=r"x_target has 3 cells .* 4 rows"):
        layer(torch.randn(3, 2), neighborhood, torch.randn(3, 2))
    with pytest.raises(TypeError, match="x_source must hold floating-point"):
        layer(torch.ones(3, 2, dtype=torch.long), neighborhood, torch.randn(4, 2))
    with pytest.raises(ValueError, match="att=True without x_target needs a square"):
        layer(torch.randn(3, 2), neighborhood)


def test_the_last_forward_entries_are_read_under_topomodelx_names_and_not_held_after():
    class ReadsTargets(LinearMessagePassing):  # as a TopoModelX subclass reading the attribute in a forward
        def aggregate(self, x_message):
            self.targets_seen = self.target_index_i.clone()
            return super().aggregate(x_message)

    layer = ReadsTargets(3, 2)
    neighborhood = random_neighborhood(5, 4, seed=3).coalesce()
    layer(torch.randn(4, 3), neighborhood)  # cached: its transpose's entries come from these
    x = torch.randn(5, 3)
    out = layer(x, neighborhood.T)
    expected = neighborhood.T.coalesce().indices()
    assert torch.equal(layer.targets_seen, expected[0]) and torch.equal(layer.target_index_i, expected[0])
    assert torch.equal(layer.source_index_j, expected[1])
    assert relative_error(out, dense_reference(layer, x, neighborhood.T)) <= TOLERANCE[torch.float32]
    layer.target_index_i = torch.tensor([1])  # assigned, as TopoModelX allows
    assert torch.equal(layer.target_index_i, torch.tensor([1]))
    layer(x, neighborhood.T)  # a forward reads its own again
    assert torch.equal(layer.target_index_i, expected[0])
    del neighborhood  # the layer does not keep a dropped neighborhood's entries
    assert layer.target_index_i is None


def test_a_layer_pickles_after_a_forward():
    import io

    from topodist.base.conv import Conv

    layer = Conv(3, 2)
    neighborhood = random_neighborhood(5, 4, seed=4)
    x = torch.randn(4, 3)
    out = layer(x, neighborhood)
    saved = io.BytesIO()
    torch.save(layer, saved)  # a whole module, as ddp_spawn and torch.save(model) pickle it
    saved.seek(0)
    loaded = torch.load(saved, weights_only=False)
    assert torch.equal(loaded(x, neighborhood), out)
