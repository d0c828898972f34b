"""Simplicial 2-complex convolutional network, as ``topomodelx.nn.simplicial.scconv.SCConv``."""

import torch

from topodist.nn.simplicial.scconv_layer import SCConvLayer

__all__ = ["SCConv"]


class SCConv(torch.nn.Module):
    """Stack of :class:`SCConvLayer`.

    Parameters
    ----------
    node_channels : int
    edge_channels, face_channels : int, optional
        ``node_channels`` when omitted.
    n_layers : int, default=2
    """

    def __init__(
        self, node_channels: int, edge_channels: int | None = None, face_channels: int | None = None, n_layers: int = 2
    ) -> None:
        super().__init__()
        self.node_channels = node_channels
        self.edge_channels = node_channels if edge_channels is None else edge_channels
        self.face_channels = node_channels if face_channels is None else face_channels
        self.n_layers = n_layers
        self.layers = torch.nn.ModuleList(
            SCConvLayer(self.node_channels, self.edge_channels, self.face_channels) for _ in range(n_layers)
        )

    def forward(
        self,
        x_0,
        x_1,
        x_2,
        incidence_1,
        incidence_1_norm,
        incidence_2,
        incidence_2_norm,
        adjacency_up_0_norm,
        adjacency_up_1_norm,
        adjacency_down_1_norm,
        adjacency_down_2_norm,
    ):
        """Forward pass; arguments as in :meth:`SCConvLayer.forward`.

        Returns
        -------
        x_0, x_1, x_2 : torch.Tensor
        """
        neighborhoods = (
            incidence_1,
            incidence_1_norm,
            incidence_2,
            incidence_2_norm,
            adjacency_up_0_norm,
            adjacency_up_1_norm,
            adjacency_down_1_norm,
            adjacency_down_2_norm,
        )
        for layer in self.layers:
            x_0, x_1, x_2 = layer(x_0, x_1, x_2, *neighborhoods)
        return x_0, x_1, x_2
