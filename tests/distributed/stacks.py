"""Models written once for one device, run unchanged on partitioned neighborhoods.

Each is shaped like a TopoModelX layer (HSN, SCN2, CWN) and built from
topodist's base layers only; ``neighborhoods`` maps names to torch sparse
tensors on one device, or to partitioned neighborhoods on a part.
"""

import torch

from topodist.base.aggregation import Aggregation
from topodist.base.conv import Conv
from topodist.base.message_passing import MessagePassing
from topodist.distributed import global_pool


class LinearMessagePassing(MessagePassing):
    """A MessagePassing subclass as TopoModelX's tests write one."""

    def __init__(self, in_channels, out_channels, aggr_func="sum", att=False):
        super().__init__(aggr_func=aggr_func, att=att)
        self.weight = torch.nn.Parameter(torch.empty(in_channels, out_channels))
        if att:
            self.att_weight = torch.nn.Parameter(torch.empty(2 * in_channels))
        self.reset_parameters()

    def message(self, x_source, x_target=None):
        return torch.matmul(x_source, self.weight)


class HSNShaped(torch.nn.Module):
    """HSNLayer: node-to-node and node-to-edge-to-node convolutions, summed."""

    ranks = (0,)

    def __init__(self, channels, att=False):
        super().__init__()
        self.level1_0_to_0 = Conv(channels, channels, update_func="sigmoid", att=att)
        self.level1_0_to_1 = Conv(channels, channels, update_func="sigmoid")
        self.level2_0_to_0 = Conv(channels, channels, update_func=None)
        self.level2_1_to_0 = Conv(channels, channels, update_func=None, aggr_norm=True)
        self.aggregate = Aggregation(aggr_func="sum", update_func="sigmoid")

    def forward(self, x, neighborhoods):
        incidence_1, adjacency_0 = neighborhoods["incidence_1"], neighborhoods["adjacency_0"]
        x_0 = x[0]
        x_0_level1 = self.level1_0_to_0(x_0, adjacency_0)
        x_1_level1 = self.level1_0_to_1(x_0, incidence_1.T)
        x_0_level2 = self.level2_0_to_0(x_0_level1, adjacency_0)
        x_1_to_0 = self.level2_1_to_0(x_1_level1, incidence_1)
        return {0: self.aggregate([x_0_level2, x_1_to_0])}


class SCN2Shaped(torch.nn.Module):
    """SCN2Layer: one Laplacian convolution per rank; the edge Laplacian as down + up, and a plain product."""

    ranks = (0, 1, 2)

    def __init__(self, channels, att=False):
        super().__init__()
        self.conv_0_to_0 = Conv(channels, channels, update_func="relu", att=att)
        self.conv_1_to_1 = Conv(channels, channels, update_func="relu")
        self.conv_2_to_2 = Conv(channels, channels, update_func="relu", aggr_norm=True)
        self.mix = torch.nn.Linear(channels, channels, dtype=self.conv_1_to_1.weight.dtype)

    def forward(self, x, neighborhoods):
        laplacian_1 = neighborhoods["down_laplacian_1"] + neighborhoods["up_laplacian_1"]
        smoothed = torch.sparse.mm(neighborhoods["hodge_laplacian_1"], self.mix(x[1]))
        return {
            0: self.conv_0_to_0(x[0], neighborhoods["hodge_laplacian_0"]),
            1: self.conv_1_to_1(x[1], laplacian_1) + smoothed,
            2: self.conv_2_to_2(x[2], neighborhoods["hodge_laplacian_2"]),
        }


class CWNShaped(torch.nn.Module):
    """CWNLayer: edges from edges (adjacency), faces (B2) and nodes (B1^T, with attention), merged."""

    ranks = (1,)

    def __init__(self, channels, att=False):
        super().__init__()
        self.conv_1_to_1 = Conv(channels, channels, att=att)
        self.conv_2_to_1 = Conv(channels, channels, aggr_norm=True)
        self.conv_0_to_1 = Conv(channels, channels, att=att)
        self.merge = Aggregation(aggr_func="mean", update_func="relu")
        self.update = torch.nn.Linear(channels, channels, dtype=self.conv_1_to_1.weight.dtype)

    def forward(self, x, neighborhoods):
        from_edges = self.conv_1_to_1(x[1], neighborhoods["adjacency_1"])
        from_faces = self.conv_2_to_1(x[2], neighborhoods["incidence_2"])
        from_nodes = self.conv_0_to_1(x[0], neighborhoods["incidence_1"].T, x[1])
        return {1: self.update(self.merge([from_edges, from_faces, from_nodes]))}


class PoolingReadout(torch.nn.Module):
    """A message-passing layer, then sum, mean and max readouts over all edges."""

    ranks = ()

    def __init__(self, channels, att=False):
        super().__init__()
        self.layer = LinearMessagePassing(channels, channels, aggr_func="mean", att=att)

    def forward(self, x, neighborhoods):
        adjacency = neighborhoods["adjacency_1"]
        hidden = self.layer(x[1], adjacency)
        return {"pooled": torch.cat([global_pool(hidden, r, over=adjacency) for r in ("sum", "mean", "max")], -1)}


NEIGHBORHOODS = [
    "incidence_1", "incidence_1.T", "incidence_2", "incidence_2.T", "adjacency_0", "adjacency_1",
    "hodge_laplacian_0", "hodge_laplacian_1", "hodge_laplacian_2", "down_laplacian_1", "up_laplacian_1",
]
