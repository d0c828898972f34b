"""HMPNN, as ``topomodelx.nn.hypergraph.hmpnn.HMPNN``."""

import torch

from topodist.nn.hypergraph.hmpnn_layer import HMPNNLayer
from topodist.ops.dense import Linear

__all__ = ["HMPNN"]


class HMPNN(torch.nn.Module):
    """Linear input maps of node and hyperedge features, then :class:`~topodist.nn.hypergraph.hmpnn_layer.HMPNNLayer` s.

    Parameters
    ----------
    in_channels, hidden_channels : int
    n_layers : int, default=2
    adjacency_dropout_rate : float, default=0.7
    regular_dropout_rate : float, default=0.5
    **kwargs
        Passed to every layer.
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        n_layers: int = 2,
        adjacency_dropout_rate: float = 0.7,
        regular_dropout_rate: float = 0.5,
        **kwargs,
    ) -> None:
        super().__init__()
        self.linear_node = Linear(in_channels, hidden_channels)
        self.linear_edge = Linear(in_channels, hidden_channels)
        self.layers = torch.nn.ModuleList(
            HMPNNLayer(
                hidden_channels,
                adjacency_dropout=adjacency_dropout_rate,
                updating_dropout=regular_dropout_rate,
                **kwargs,
            )
            for _ in range(n_layers)
        )

    def forward(self, x_0: torch.Tensor, x_1: torch.Tensor, incidence_1) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward pass.

        Parameters
        ----------
        x_0 : torch.Tensor, shape = (n_nodes, in_channels)
        x_1 : torch.Tensor, shape = (n_hyperedges, in_channels)
        incidence_1 : torch.sparse or PartitionedNeighborhood, shape = (n_nodes, n_hyperedges)

        Returns
        -------
        x_0 : torch.Tensor, shape = (n_nodes, hidden_channels)
        x_1 : torch.Tensor, shape = (n_hyperedges, hidden_channels)
        """
        x_0 = self.linear_node(x_0)
        x_1 = self.linear_edge(x_1)
        for layer in self.layers:
            x_0, x_1 = layer(x_0, x_1, incidence_1)
        return x_0, x_1
