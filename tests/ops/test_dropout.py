"""CellDropout: a mask per (call, global cell, channel), so a part drops what one device drops."""

from types import SimpleNamespace

import pytest
import torch

from topodist.ops.dropout import CellDropout, cell_uniform


def test_drops_about_p_and_scales_the_rest():
    dropout = CellDropout(0.3).train()
    x = torch.ones(4000, 8, dtype=torch.float64)
    torch.manual_seed(0)
    y = dropout(x)
    dropped = (y == 0).double().mean().item()
    assert abs(dropped - 0.3) < 0.01
    assert torch.allclose(y[y != 0], torch.full_like(y[y != 0], 1 / 0.7))
    assert torch.equal(dropout.eval()(x), x) and torch.equal(CellDropout(0.0).train()(x), x)
    assert torch.equal(CellDropout(1.0).train()(x), torch.zeros_like(x))


def test_mask_follows_the_global_cell_and_the_seed():
    dropout = CellDropout(0.5).train()
    x = torch.randn(50, 6, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(7)
    whole = dropout(x)
    rows = torch.tensor([3, 17, 18, 41, 49])
    part = SimpleNamespace(target_cells=rows)  # what a partitioned neighborhood carries
    torch.manual_seed(7)
    assert torch.equal(dropout(x[rows], over=part), whole[rows])
    torch.manual_seed(8)
    assert not torch.equal(dropout(x), whole)  # another key, another mask
    # independent channels and cells: no two columns or rows of a large draw coincide
    u = cell_uniform(12345, torch.arange(1000), 16)
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean().item() - 0.5) < 0.01
    assert (u[:, 0] != u[:, 1]).all() and (u[0] != u[1]).all()


def test_probability_is_checked():
    with pytest.raises(ValueError, match="p=1.5"):
        CellDropout(1.5)
