"""Simplicial Convolutional Neural Network, as ``topomodelx.nn.simplicial.scnn.SCNN``."""

from typing import Literal

import torch

from topodist.nn.simplicial.scnn_layer import SCNNLayer

__all__ = ["SCNN"]


class SCNN(torch.nn.Module):
    """Stack of :class:`SCNNLayer` on the cells of one rank.

    Parameters
    ----------
    in_channels, hidden_channels : int
    conv_order_down, conv_order_up : int
    aggr_norm : bool, default=False
    update_func : {"relu", "sigmoid", None}, default=None
    n_layers : int, default=2
    reproduce_topomodelx : bool, default=True
        TopoModelX 0.0.1 gives ``aggr_norm`` and ``update_func`` to every layer
        but the first; ``False`` gives them to all (and see :class:`SCNNLayer`).
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        conv_order_down: int,
        conv_order_up: int,
        aggr_norm: bool = False,
        update_func: Literal["relu", "sigmoid", None] = None,
        n_layers: int = 2,
        reproduce_topomodelx: bool = True,
    ) -> None:
        super().__init__()
        first = {} if reproduce_topomodelx else {"aggr_norm": aggr_norm, "update_func": update_func}
        orders = {"conv_order_down": conv_order_down, "conv_order_up": conv_order_up}
        self.layers = torch.nn.ModuleList(
            [SCNNLayer(in_channels, hidden_channels, **orders, **first, reproduce_topomodelx=reproduce_topomodelx)]
        )
        for _ in range(n_layers - 1):
            self.layers.append(
                SCNNLayer(
                    hidden_channels,
                    hidden_channels,
                    **orders,
                    aggr_norm=aggr_norm,
                    update_func=update_func,
                    reproduce_topomodelx=reproduce_topomodelx,
                )
            )

    def forward(self, x: torch.Tensor, laplacian_down, laplacian_up) -> torch.Tensor:
        """Forward pass.

        Parameters
        ----------
        x : torch.Tensor, shape = (n_cells, in_channels)
        laplacian_down, laplacian_up : torch.sparse, shape = (n_cells, n_cells)

        Returns
        -------
        torch.Tensor, shape = (n_cells, hidden_channels)
        """
        for layer in self.layers:
            x = layer(x, laplacian_down, laplacian_up)
        return x
