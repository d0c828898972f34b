"""Aggregation against explicit formulas and TopoModelX 0.0.1."""

import pytest
import torch

from tests.reference import relative_error
from topodist.base.aggregation import Aggregation

UPDATES = {None: lambda x: x, "relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}


@pytest.mark.parametrize("aggr_func", ["sum", "mean"])
@pytest.mark.parametrize("update_func", [None, "relu", "sigmoid", "tanh"])
def test_merges_then_updates(aggr_func, update_func):
    a, b, c = (torch.randn(2, 5, 3) for _ in range(3))
    merged = a + b + c if aggr_func == "sum" else (a + b + c) / 3
    out = Aggregation(aggr_func=aggr_func, update_func=update_func)([a, b, c])
    assert relative_error(out, UPDATES[update_func](merged)) <= 1e-6


@pytest.mark.parametrize("aggr_func", ["sum", "mean"])
@pytest.mark.parametrize("update_func", [None, "relu", "sigmoid", "tanh"])
def test_matches_topomodelx(topomodelx, aggr_func, update_func):
    messages = [torch.randn(7, 4) for _ in range(2)]
    reference = topomodelx.base.aggregation.Aggregation(aggr_func=aggr_func, update_func=update_func)
    out = Aggregation(aggr_func=aggr_func, update_func=update_func)(messages)
    assert relative_error(out, reference(messages)) <= 1e-6


def test_default_is_sum_then_sigmoid():
    a, b = torch.randn(4, 2), torch.randn(4, 2)
    assert torch.equal(Aggregation()([a, b]), torch.sigmoid(a + b))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="aggr_func='max'"):
        Aggregation(aggr_func="max")
    with pytest.raises(ValueError, match="update_func='gelu'"):
        Aggregation(update_func="gelu")
    with pytest.raises(ValueError, match="non-empty list"):
        Aggregation()([])
    with pytest.raises(ValueError, match="non-empty list"):
        Aggregation()(torch.randn(2, 3))
    with pytest.raises(ValueError, match="one shape"):
        Aggregation()([torch.randn(2, 3), torch.randn(3, 3)])
