"""Simplex Convolutional Network, as ``topomodelx.nn.simplicial.scn2.SCN2``."""

import torch

from topodist.nn.simplicial.scn2_layer import SCN2Layer

__all__ = ["SCN2"]


class SCN2(torch.nn.Module):
    """Stack of :class:`SCN2Layer`.

    Parameters
    ----------
    in_channels_0, in_channels_1, in_channels_2 : int
        Widths of the node, edge and face features.
    n_layers : int, default=2
    """

    def __init__(self, in_channels_0: int, in_channels_1: int, in_channels_2: int, n_layers: int = 2) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(
            SCN2Layer(in_channels_0=in_channels_0, in_channels_1=in_channels_1, in_channels_2=in_channels_2)
            for _ in range(n_layers)
        )

    def forward(self, x_0, x_1, x_2, laplacian_0, laplacian_1, laplacian_2):
        """Forward pass; shapes as in :meth:`SCN2Layer.forward`.

        Returns
        -------
        x_0, x_1, x_2 : torch.Tensor
            Final node, edge and face representations.
        """
        for layer in self.layers:
            x_0, x_1, x_2 = layer(x_0, x_1, x_2, laplacian_0, laplacian_1, laplacian_2)
        return x_0, x_1, x_2
