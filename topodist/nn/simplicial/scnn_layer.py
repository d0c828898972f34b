"""Simplicial Convolutional Neural Network layer, as ``topomodelx.nn.simplicial.scnn_layer.SCNNLayer``."""

from typing import Literal

import torch
from torch.nn.parameter import Parameter

from topodist.nn.updates import apply_update, check_update
from topodist.ops.polynomial import neighborhood_powers

__all__ = ["SCNNLayer"]


class SCNNLayer(torch.nn.Module):
    r"""Polynomial filters in the down and up Laplacians of one rank.

    .. math::
        h' = \sigma\Big( h \Theta_0 + \sum_{d=1}^{D} L_\downarrow^d h \, \Theta_d
            + \sum_{u=1}^{U} L_\uparrow^u h \, \Theta_{D+u} \Big)

    Parameters
    ----------
    in_channels, out_channels : int
    conv_order_down, conv_order_up : int
        :math:`D` and :math:`U`; 0 leaves that filter out.
    aggr_norm : bool, default=False
        Divide each power by the Laplacian's row sums (computed sparsely). TopoModelX
        0.0.1 does not normalize the first power; ``reproduce_topomodelx=False`` does.
    update_func : {"relu", "sigmoid", None}, default=None
        :math:`\sigma`; TopoModelX 0.0.1 returns None for any other string, topodist
        raises a ValueError.
    initialization : {"xavier_uniform", "xavier_normal"}, default="xavier_uniform"
        TopoModelX 0.0.1 leaves the weight uninitialized for ``"xavier_normal"``;
        topodist initializes it.
    reproduce_topomodelx : bool, default=True
        Keep TopoModelX 0.0.1's outputs; ``False`` normalizes every power.

    References
    ----------
    Yang, Isufi and Leus. Simplicial convolutional neural networks. ICASSP 2022.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        conv_order_down: int,
        conv_order_up: int,
        aggr_norm: bool = False,
        update_func: Literal["relu", "sigmoid", None] = None,
        initialization: Literal["xavier_uniform", "xavier_normal"] = "xavier_uniform",
        reproduce_topomodelx: bool = True,
    ) -> None:
        super().__init__()
        check_update(update_func)
        if initialization not in ("xavier_uniform", "xavier_normal"):
            raise ValueError(f"initialization={initialization!r}: choose 'xavier_uniform' or 'xavier_normal'.")
        if conv_order_down < 0 or conv_order_up < 0 or conv_order_down + conv_order_up == 0:
            raise ValueError(
                f"conv_order_down={conv_order_down}, conv_order_up={conv_order_up}: both at least 0, one positive."
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.conv_order_down = conv_order_down
        self.conv_order_up = conv_order_up
        self.aggr_norm = aggr_norm
        self.update_func = update_func
        self.initialization = initialization
        self.reproduce_topomodelx = reproduce_topomodelx
        self.weight = Parameter(torch.empty(in_channels, out_channels, 1 + conv_order_down + conv_order_up))
        self.reset_parameters()

    def reset_parameters(self, gain: float = 1.414) -> None:
        """Reset the weight with ``initialization`` and ``gain``."""
        if self.initialization == "xavier_uniform":
            torch.nn.init.xavier_uniform_(self.weight, gain=gain)
        else:
            torch.nn.init.xavier_normal_(self.weight, gain=gain)

    def update(self, x: torch.Tensor) -> torch.Tensor:
        """Apply ``update_func``; shape = (n_cells, out_channels)."""
        return apply_update(x, self.update_func)

    def forward(self, x: torch.Tensor, laplacian_down, laplacian_up) -> torch.Tensor:
        """Forward pass.

        Parameters
        ----------
        x : torch.Tensor, shape = (n_cells, in_channels)
        laplacian_down, laplacian_up : torch.sparse, shape = (n_cells, n_cells)
            Down and up Laplacians (or adjacencies) of the cells' rank.

        Returns
        -------
        torch.Tensor, shape = (n_cells, out_channels)
        """
        normalize_first = not self.reproduce_topomodelx
        terms = [x.unsqueeze(-1)]
        for laplacian, order in ((laplacian_down, self.conv_order_down), (laplacian_up, self.conv_order_up)):
            if order > 0:
                terms.append(neighborhood_powers(laplacian, x, order, self.aggr_norm, normalize_first))
        y = torch.einsum("nik,iok->no", torch.cat(terms, dim=-1), self.weight)
        return self.update(y)
