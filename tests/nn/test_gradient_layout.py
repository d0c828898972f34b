"""Every zoo model's gradients have their parameters' strides.

DDP copies each gradient into a bucket laid out like its parameter; a gradient
of other strides (even on a dimension of size 1) makes it warn "Grad strides do
not match bucket view strides" on every step and copy through a slower path.
"""

import pytest
import torch

from benchmarks.zoo_vs_topomodelx import flatten
from tests.nn.zoo import CASES, zoo_model
from topodist.nn.cell.can_layer import MultiHeadCellAttention, MultiHeadCellAttention_v2


@pytest.mark.parametrize("name", list(CASES))
def test_gradients_are_laid_out_as_their_parameters(torus, name):
    model, inputs = zoo_model(name, torus)
    sum(output.sum() for output in flatten(model(*inputs))).backward()
    assert not mismatched_strides(model)


@pytest.mark.parametrize("attention", [MultiHeadCellAttention, MultiHeadCellAttention_v2])
def test_both_cell_attentions_lay_gradients_out_as_their_weights(torus, attention):
    torch.manual_seed(0)
    layer = attention(4, 8, dropout=0.0, heads=2, concat=True, att_activation=torch.nn.LeakyReLU(0.2))
    layer(torch.randn(torus.n_cells[1], 4), torus.neighborhood("down_laplacian_1")).sum().backward()
    assert not mismatched_strides(layer)


def mismatched_strides(model: torch.nn.Module) -> dict:
    return {
        name: (parameter.stride(), parameter.grad.stride())
        for name, parameter in model.named_parameters()
        if parameter.grad is not None and parameter.grad.stride() != parameter.stride()
    }
