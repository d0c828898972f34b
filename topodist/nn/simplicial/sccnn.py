"""Simplicial Complex Convolutional Neural Network, as ``topomodelx.nn.simplicial.sccnn.SCCNN``."""

from typing import Literal

import torch

from topodist.nn.simplicial.sccnn_layer import SCCNNLayer
from topodist.ops.dense import Linear

__all__ = ["SCCNN"]


class SCCNN(torch.nn.Module):
    """Linear input maps per rank, then a stack of :class:`SCCNNLayer`.

    Parameters
    ----------
    in_channels_all, hidden_channels_all : (int, int, int)
        Input and hidden widths of node, edge and face features.
    conv_order, sc_order : int
        See :class:`SCCNNLayer`.
    aggr_norm : bool, default=False
    update_func : {"relu", "sigmoid", None}, default=None
    n_layers : int, default=2
    """

    def __init__(
        self,
        in_channels_all: tuple[int, int, int],
        hidden_channels_all: tuple[int, int, int],
        conv_order: int,
        sc_order: int,
        aggr_norm: bool = False,
        update_func: Literal["relu", "sigmoid", None] = None,
        n_layers: int = 2,
    ) -> None:
        super().__init__()
        self.in_linear_0 = Linear(in_channels_all[0], hidden_channels_all[0])
        self.in_linear_1 = Linear(in_channels_all[1], hidden_channels_all[1])
        self.in_linear_2 = Linear(in_channels_all[2], hidden_channels_all[2])
        self.layers = torch.nn.ModuleList(
            SCCNNLayer(
                in_channels=hidden_channels_all,
                out_channels=hidden_channels_all,
                conv_order=conv_order,
                sc_order=sc_order,
                aggr_norm=aggr_norm,
                update_func=update_func,
            )
            for _ in range(n_layers)
        )

    def forward(self, x_all, laplacian_all, incidence_all):
        """Forward pass; arguments as in :meth:`SCCNNLayer.forward`.

        Returns
        -------
        (torch.Tensor, torch.Tensor, torch.Tensor)
            Node, edge and face features, shapes ``(n_r, hidden_channels_all[r])``.
        """
        x_0, x_1, x_2 = x_all
        x_all = (self.in_linear_0(x_0), self.in_linear_1(x_1), self.in_linear_2(x_2))
        for layer in self.layers:
            x_all = layer(x_all, laplacian_all, incidence_all)
        return x_all
