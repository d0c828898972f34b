"""Simplicial Attention Network layer, as ``topomodelx.nn.simplicial.san_layer``."""

from typing import Literal

import torch
from torch.nn.parameter import Parameter

from topodist.base.conv import Conv
from topodist.base.message_passing import MessagePassing
from topodist.ops.neighborhood import localize, propagate, torch_order_matmul
from topodist.ops.scatter import scatter_softmax

__all__ = ["SANConv", "SANLayer"]


class SANConv(Conv):
    r"""Attention filter of order :math:`P` through one Laplacian.

    .. math::
        \begin{align*}
        a_{xy} &= \mathrm{softmax}_{y \in \mathcal{N}(x)}\,
            \mathrm{ELU}\big([\tilde h_y \,\|\, \tilde h_x] \cdot \mathbf{a}\big),
            \qquad \tilde h = [h \Theta_1 \,\|\, \dots \,\|\, h \Theta_P]\\
        h' &= \sum_{p=1}^{P} A^p\, h \Theta_p
        \end{align*}

    :math:`A` holds the attention weights on the stored entries of the
    neighborhood (its values are not used, only its pattern). The sum is evaluated
    as :math:`A(h\Theta_1 + A(h\Theta_2 + \dots))`: :math:`P` sparse products, where
    TopoModelX 0.0.1 densifies :math:`A` and multiplies dense powers. On a
    partitioned neighborhood each product exchanges one halo.

    Parameters
    ----------
    in_channels, out_channels : int
    n_filters : int
        :math:`P`.
    initialization : {"xavier_uniform", "xavier_normal"}, default="xavier_uniform"
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        n_filters: int,
        initialization: Literal["xavier_uniform", "xavier_normal"] = "xavier_uniform",
    ) -> None:
        MessagePassing.__init__(self, att=True, initialization=initialization)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.n_filters = n_filters
        self.weight = Parameter(torch.empty(n_filters, in_channels, out_channels))
        self.att_weight = Parameter(torch.empty(2 * out_channels * n_filters))
        self.reset_parameters()

    def forward(self, x_source: torch.Tensor, neighborhood) -> torch.Tensor:
        """Forward pass.

        Parameters
        ----------
        x_source : torch.Tensor, shape = (n_cells, in_channels)
        neighborhood : torch.sparse, shape = (n_cells, n_cells)

        Returns
        -------
        torch.Tensor, shape = (n_cells, out_channels)
        """
        x_message = torch.matmul(x_source, self.weight)
        stacked = x_message.permute(1, 0, 2).reshape(-1, self.out_channels * self.n_filters)
        stacked, local, stacked_target = localize(stacked, neighborhood, None)
        index = self._read_neighborhood(stacked, local, stacked_target)
        scores = self.attention(stacked, stacked_target)
        attention = scatter_softmax(scores, index.target_index, index.n_target_cells)

        def attend(y: torch.Tensor) -> torch.Tensor:
            y, _, _ = localize(y, neighborhood, None)
            return propagate(index, y, attention)

        y = x_message[-1]
        for p in range(self.n_filters - 2, -1, -1):
            y = x_message[p] + attend(y)
        return attend(y)


class SANLayer(torch.nn.Module):
    r"""Attention filters through the down and up Laplacians plus a harmonic filter.

    .. math::
        h' = \mathrm{SANConv}_\downarrow(h, L_\downarrow) + \mathrm{SANConv}_\uparrow(h, L_\uparrow)
            + P\, h\, \Theta_{har}

    Parameters
    ----------
    in_channels, out_channels : int
    n_filters : int, default=2

    References
    ----------
    Giusti, Battiloro, Di Lorenzo, Sardellitti and Barbarossa. Simplicial
    attention neural networks (2022). https://arxiv.org/abs/2203.07485
    """

    def __init__(self, in_channels: int, out_channels: int, n_filters: int = 2) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.n_filters = n_filters
        self.conv_down = SANConv(in_channels, out_channels, n_filters)
        self.conv_up = SANConv(in_channels, out_channels, n_filters)
        self.conv_harmonic = Conv(in_channels, out_channels)

    def reset_parameters(self) -> None:
        """Reset the parameters of the three filters."""
        self.conv_down.reset_parameters()
        self.conv_up.reset_parameters()
        self.conv_harmonic.reset_parameters()

    def forward(self, x: torch.Tensor, laplacian_up, laplacian_down, projection_mat) -> torch.Tensor:
        """Forward pass.

        Parameters
        ----------
        x : torch.Tensor, shape = (n_cells, in_channels)
        laplacian_up, laplacian_down : torch.sparse, shape = (n_cells, n_cells)
        projection_mat : HarmonicProjection or torch.Tensor, shape = (n_cells, n_cells)
            What :meth:`SAN.compute_projection_matrix` returns; a matrix (dense, as
            TopoModelX 0.0.1 builds it, or sparse) works too.

        Returns
        -------
        torch.Tensor, shape = (n_cells, out_channels)
        """
        z_down = self.conv_down(x, laplacian_down)
        z_up = self.conv_up(x, laplacian_up)
        z_har = torch_order_matmul(projection_mat, torch.matmul(x, self.conv_harmonic.weight))
        return z_down + z_up + z_har
