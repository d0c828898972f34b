"""Readouts on one device (the partitioned readouts are checked in test_exactness)."""

import pytest
import torch

from topodist.distributed import global_pool


@pytest.mark.parametrize(("reduce", "expected"), [("sum", lambda x: x.sum(-2)), ("mean", lambda x: x.mean(-2)),
                                                   ("max", lambda x: x.amax(-2))])
def test_unpartitioned_readouts_pool_the_cell_dimension(reduce, expected):
    x = torch.randn(2, 7, 3)
    adjacency = torch.eye(7).to_sparse()  # a torch sparse neighborhood: nothing to all-reduce
    assert torch.equal(global_pool(x, reduce, over=adjacency), expected(x))
    assert torch.equal(global_pool(x, reduce), expected(x))


def test_unknown_readout_is_named():
    with pytest.raises(ValueError, match="reduce='median' is not a readout"):
        global_pool(torch.randn(3, 2), "median")
