"""Simplex Convolutional Network layer, as ``topomodelx.nn.simplicial.scn2_layer.SCN2Layer``."""

import torch

from topodist.base.conv import Conv

__all__ = ["SCN2Layer"]


class SCN2Layer(torch.nn.Module):
    r"""One Laplacian convolution per rank, each followed by a ReLU.

    .. math::
        h'^{(k)} = \mathrm{ReLU}(L_k\, h^{(k)} \Theta^{(k)}), \quad k = 0, 1, 2

    Parameters
    ----------
    in_channels_0, in_channels_1, in_channels_2 : int
        Widths of the node, edge and face features (kept by the layer).

    References
    ----------
    Yang, Sala and Bogdan. Efficient representation learning for higher-order
    data with simplicial complexes. LoG 2022.
    """

    def __init__(self, in_channels_0: int, in_channels_1: int, in_channels_2: int) -> None:
        super().__init__()
        self.conv_0_to_0 = Conv(in_channels=in_channels_0, out_channels=in_channels_0)
        self.conv_1_to_1 = Conv(in_channels=in_channels_1, out_channels=in_channels_1)
        self.conv_2_to_2 = Conv(in_channels=in_channels_2, out_channels=in_channels_2)

    def reset_parameters(self) -> None:
        """Reset the learnable parameters of every convolution."""
        self.conv_0_to_0.reset_parameters()
        self.conv_1_to_1.reset_parameters()
        self.conv_2_to_2.reset_parameters()

    def forward(self, x_0, x_1, x_2, laplacian_0, laplacian_1, laplacian_2):
        """Forward pass.

        Parameters
        ----------
        x_0 : torch.Tensor, shape = (..., n_nodes, in_channels_0)
        x_1 : torch.Tensor, shape = (..., n_edges, in_channels_1)
        x_2 : torch.Tensor, shape = (..., n_faces, in_channels_2)
        laplacian_0, laplacian_1, laplacian_2 : torch.sparse
            Laplacians (normalized ones in SCN2's paper) of ranks 0, 1, 2.

        Returns
        -------
        x_0, x_1, x_2 : torch.Tensor
            Same shapes as the inputs.
        """
        x_0 = torch.nn.functional.relu(self.conv_0_to_0(x_0, laplacian_0))
        x_1 = torch.nn.functional.relu(self.conv_1_to_1(x_1, laplacian_1))
        x_2 = torch.nn.functional.relu(self.conv_2_to_2(x_2, laplacian_2))
        return x_0, x_1, x_2
