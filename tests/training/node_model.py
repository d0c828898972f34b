"""Small models written for one device: a node classifier (nodes to edges and back, twice), and a mesh classifier."""

import torch

from topodist.base.conv import Conv
from topodist.nn.simplicial.hsn import HSN
from topodist.training.heads import ComplexClassifier


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


def genus_classifier() -> ComplexClassifier:
    """A seeded HSN classifier of the meshes of ``genus:N`` (3 node features, 2 classes, mean readout)."""
    torch.manual_seed(0)
    return ComplexClassifier(
        backbone=HSN(channels=8, n_layers=1), inputs=["x_0", "incidence_1", "adjacency_0"], in_channels={0: 3},
        hidden_channels=8, n_classes=2, rank=0, readout="mean",
    )
