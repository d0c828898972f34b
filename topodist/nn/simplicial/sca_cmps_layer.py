"""SCA layer with coadjacency message passing scheme, as ``topomodelx.nn.simplicial.sca_cmps_layer.SCACMPSLayer``."""

import torch

from topodist.base.aggregation import Aggregation
from topodist.base.conv import Conv
from topodist.distributed.readout import global_pool

__all__ = ["SCACMPSLayer"]


class SCACMPSLayer(torch.nn.Module):
    r"""Each rank :math:`i \geq 1` from its down Laplacian and from the rank below, reweighted by a global context.

    .. math::
        \begin{align*}
        m_{\downarrow} &= \omega(L_{\downarrow,i}\, h^{(i)} \Theta_i), \qquad
        m_{B} = \omega(B_i^T h^{(i-1)} \Theta_{i-1 \to i})\\
        \omega(m) &= \mathrm{sigmoid}\big(m\, \mathrm{ReLU}(\textstyle\sum_c m_c)^T\big) \odot m\\
        h'^{(i)} &= \mathrm{ReLU}\big(\tfrac{1}{2}(m_{\downarrow} + m_{B})\big)
        \end{align*}

    :math:`\sum_c m_c` sums over every cell of the rank: on a partitioned complex,
    over every part (an all-reduce), so the result is the one-device result.

    Parameters
    ----------
    channels_list : list of int
        Width of the features of each rank.
    complex_dim : int
        Ranks ``1 .. complex_dim - 1`` are updated.
    att : bool, default=False
        Attention in the convolutions. Through the incidences (non-square) topodist
        raises a ValueError, as attention there needs target features; TopoModelX
        0.0.1 reads the source rank's features at the target cells' indices
        (wrong cells, or an IndexError when the target rank has more cells).

    References
    ----------
    Hajij, Ramamurthy, Guzmán-Sáenz and Zamzmi. Simplicial complex
    representation learning. arXiv:2103.04046 (2021).
    """

    def __init__(self, channels_list: list[int], complex_dim: int, att: bool = False) -> None:
        super().__init__()
        self.att = att
        self.dim = complex_dim
        self.channels_list = channels_list
        self.lap_layers = torch.nn.ModuleList(
            Conv(in_channels=channels_list[i], out_channels=channels_list[i], att=att) for i in range(1, complex_dim)
        )
        self.inc_layers = torch.nn.ModuleList(
            Conv(in_channels=channels_list[i - 1], out_channels=channels_list[i], att=att)
            for i in range(1, complex_dim)
        )
        self.aggr = Aggregation(aggr_func="sum", update_func=None)
        self.inter_aggr = Aggregation(aggr_func="mean", update_func="relu")

    def reset_parameters(self) -> None:
        """Reset the parameters of every convolution."""
        for layer in (*self.lap_layers, *self.inc_layers):
            layer.reset_parameters()

    def weight_func(self, x: torch.Tensor) -> torch.Tensor:
        """The logistic function :math:`1 / (1 + e^{-x})`."""
        return torch.sigmoid(x)

    def intra_aggr(self, x: torch.Tensor, over=None) -> torch.Tensor:
        """:math:`\\omega(x)`: each cell scaled by the sigmoid of its product with the ReLU of the sum over all cells.

        Parameters
        ----------
        x : torch.Tensor, shape = (n_cells, channels)
        over : optional
            The neighborhood ``x`` came through; when partitioned, the sum runs over every part.

        Returns
        -------
        torch.Tensor, shape = (n_cells, channels)
        """
        context = torch.relu(global_pool(x, "sum", over=over))
        return self.weight_func(x @ context).unsqueeze(-1) * x

    def forward(self, x_list: list, down_lap_list: list, incidencet_list: list) -> list:
        """Forward pass.

        Parameters
        ----------
        x_list : list of torch.Tensor
            Features of rank ``i``, shape ``(n_i, channels_list[i])``.
        down_lap_list : list of torch.sparse
            Item ``i - 1``: down Laplacian of rank ``i``, shape ``(n_i, n_i)``.
        incidencet_list : list of torch.sparse
            Item ``i - 1``: :math:`B_i^T`, shape ``(n_i, n_{i-1})``.

        Returns
        -------
        list of torch.Tensor
            A new list: ranks ``1 .. complex_dim - 1`` updated, the others as given
            (TopoModelX 0.0.1 also overwrites the caller's list).
        """
        x_list = list(x_list)
        for i in range(1, self.dim):
            x_lap = self.lap_layers[i - 1](x_list[i], down_lap_list[i - 1])
            x_inc = self.inc_layers[i - 1](x_list[i - 1], incidencet_list[i - 1])
            x_lap = self.intra_aggr(x_lap, over=down_lap_list[i - 1])
            x_inc = self.intra_aggr(x_inc, over=incidencet_list[i - 1])
            x_list[i] = self.inter_aggr([x_lap, x_inc])
        return x_list
