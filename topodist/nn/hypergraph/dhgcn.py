"""DHGCN, as ``topomodelx.nn.hypergraph.dhgcn.DHGCN``."""

import torch

from topodist.nn.hypergraph.dhgcn_layer import DHGCNLayer

__all__ = ["DHGCN"]


class DHGCN(torch.nn.Module):
    """:class:`~topodist.nn.hypergraph.dhgcn_layer.DHGCNLayer` s.

    Parameters
    ----------
    in_channels, hidden_channels : int
    n_layers : int, default=1
    **kwargs
        Passed to every layer (``k_neighbours``, ``k_centroids``, ``device``).
    """

    def __init__(self, in_channels: int, hidden_channels: int, n_layers: int = 1, **kwargs) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(
            DHGCNLayer(
                in_channels=in_channels if i == 0 else hidden_channels,
                intermediate_channels=hidden_channels,
                out_channels=hidden_channels,
                **kwargs,
            )
            for i in range(n_layers)
        )

    def forward(self, x_0: torch.Tensor, over=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward pass.

        Parameters
        ----------
        x_0 : torch.Tensor, shape = (n_nodes, in_channels)
        over : torch.sparse or PartitionedNeighborhood, optional
            A neighborhood whose target cells are the nodes; needed on a partitioned complex.

        Returns
        -------
        x_0 : torch.Tensor, shape = (n_nodes, hidden_channels)
        x_1 : torch.Tensor, shape = (n_nodes + k_centroids, hidden_channels)
        """
        for layer in self.layers:
            x_0, x_1 = layer(x_0, over)
        return x_0, x_1
