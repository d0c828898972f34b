"""CCXN layer, as ``topomodelx.nn.cell.ccxn_layer.CCXNLayer``."""

import torch

from topodist.base.conv import Conv

__all__ = ["CCXNLayer"]


class CCXNLayer(torch.nn.Module):
    r"""Convolutional cell complex network layer: nodes from nodes, faces from edges.

    .. math::
        x_0' = \mathrm{ReLU}\big(A_0\, \mathrm{ReLU}(x_0) W_0\big), \qquad
        x_2' = \mathrm{ReLU}\big(B_2^T \mathrm{ReLU}(x_1) W_2\big), \qquad x_1' = \mathrm{ReLU}(x_1)

    With ``att=True`` each convolution weighs its messages by attention. The
    face convolution's attention reads the target faces' features ``x_2``,
    which TopoModelX 0.0.1 never passes (it then reads edge features at face
    ids); topodist raises unless ``x_2`` is given, of width ``in_channels_1``.

    Parameters
    ----------
    in_channels_0, in_channels_1, in_channels_2 : int
    att : bool, default=False

    References
    ----------
    Hajij, Istvan and Zamzmi. Cell complex neural networks. NeurIPS 2020
    Workshop on Topological Data Analysis and Beyond.
    """

    def __init__(self, in_channels_0: int, in_channels_1: int, in_channels_2: int, att: bool = False, **kwargs) -> None:
        super().__init__()
        self.conv_0_to_0 = Conv(in_channels=in_channels_0, out_channels=in_channels_0, att=att)
        self.conv_1_to_2 = Conv(in_channels=in_channels_1, out_channels=in_channels_2, att=att)

    def forward(self, x_0, x_1, adjacency_0, incidence_2_t, x_2=None):
        """Forward pass.

        Parameters
        ----------
        x_0 : torch.Tensor, shape = (n_nodes, in_channels_0)
        x_1 : torch.Tensor, shape = (n_edges, in_channels_1)
        adjacency_0 : torch.sparse, shape = (n_nodes, n_nodes)
        incidence_2_t : torch.sparse, shape = (n_faces, n_edges)
        x_2 : torch.Tensor, shape = (n_faces, in_channels_1), optional
            Read by the attention only.

        Returns
        -------
        x_0 : torch.Tensor, shape = (n_nodes, in_channels_0)
        x_1 : torch.Tensor, shape = (n_edges, in_channels_1)
        x_2 : torch.Tensor, shape = (n_faces, in_channels_2)
        """
        x_0 = torch.nn.functional.relu(x_0)
        x_1 = torch.nn.functional.relu(x_1)
        x_0 = torch.nn.functional.relu(self.conv_0_to_0(x_0, adjacency_0))
        x_2 = torch.nn.functional.relu(self.conv_1_to_2(x_1, incidence_2_t, x_2))
        return x_0, x_1, x_2
