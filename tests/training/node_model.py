"""A small node classifier written for one device: nodes to edges and back, twice."""

import torch

from topodist.base.conv import Conv


class NodeEdgeNode(torch.nn.Module):
    neighborhoods = ["incidence_1", "incidence_1.T", "adjacency_0"]

    def __init__(self, in_channels: int = 2, hidden: int = 8, n_classes: int = 2):
        super().__init__()
        self.to_edges = Conv(in_channels, hidden, update_func="relu")
        self.to_nodes = Conv(hidden, hidden, update_func="relu", aggr_norm=True)
        self.smooth = Conv(hidden, hidden, update_func="relu", aggr_norm=True)
        self.head = torch.nn.Linear(hidden, n_classes)

    def forward(self, x, neighborhoods):
        edges = self.to_edges(x[0], neighborhoods["incidence_1.T"])
        nodes = self.to_nodes(edges, neighborhoods["incidence_1"])
        nodes = self.smooth(nodes, neighborhoods["adjacency_0"])
        return {0: self.head(nodes)}
