"""High Skip Network, as ``topomodelx.nn.simplicial.hsn.HSN``."""

import torch

from topodist.nn.simplicial.hsn_layer import HSNLayer

__all__ = ["HSN"]


class HSN(torch.nn.Module):
    """Stack of :class:`HSNLayer`, node features in and out.

    Parameters
    ----------
    channels : int
        Dimension of the node features.
    n_layers : int, default=2
        Number of layers.
    """

    def __init__(self, channels: int, n_layers: int = 2) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(HSNLayer(channels=channels) for _ in range(n_layers))

    def forward(self, x_0: torch.Tensor, incidence_1, adjacency_0) -> torch.Tensor:
        """Forward pass.

        Parameters
        ----------
        x_0 : torch.Tensor, shape = (..., n_nodes, channels)
        incidence_1 : torch.sparse, shape = (n_nodes, n_edges)
        adjacency_0 : torch.sparse, shape = (n_nodes, n_nodes)

        Returns
        -------
        torch.Tensor, shape = (..., n_nodes, channels)
            Final node representations.
        """
        for layer in self.layers:
            x_0 = layer(x_0, incidence_1, adjacency_0)
        return x_0
