"""UniSAGE, as ``topomodelx.nn.hypergraph.unisage.UniSAGE``."""

from typing import Literal

import torch

from topodist.nn.hypergraph.unisage_layer import UniSAGELayer
from topodist.ops.dropout import CellDropout

__all__ = ["UniSAGE"]


class UniSAGE(torch.nn.Module):
    """Input dropout, then :class:`UniSAGELayer` s, each followed by dropout and a ReLU.

    Dropout is :class:`~topodist.ops.dropout.CellDropout`: the mask belongs to the
    nodes, so a partitioned run drops what one device drops (TopoModelX 0.0.1 uses
    ``torch.nn.Dropout``; in eval mode both are the identity).

    Parameters
    ----------
    in_channels, hidden_channels : int
    input_drop, layer_drop : float, default=0.2
    n_layers : int, default=2
    e_aggr, v_aggr : {"sum", "mean"}
    use_norm : bool, default=False
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        input_drop: float = 0.2,
        layer_drop: float = 0.2,
        n_layers: int = 2,
        e_aggr: Literal["sum", "mean"] = "sum",
        v_aggr: Literal["sum", "mean"] = "mean",
        use_norm: bool = False,
        **kwargs,
    ) -> None:
        super().__init__()
        self.input_drop = CellDropout(input_drop)
        self.layer_drop = CellDropout(layer_drop)
        self.layers = torch.nn.ModuleList(
            UniSAGELayer(
                in_channels=in_channels if i == 0 else hidden_channels, hidden_channels=hidden_channels,
                e_aggr=e_aggr, v_aggr=v_aggr, use_norm=use_norm, **kwargs,
            )
            for i in range(n_layers)
        )

    def forward(self, x_0: torch.Tensor, incidence_1) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward pass; shapes as in :meth:`UniSAGELayer.forward`."""
        x_0 = self.input_drop(x_0, over=incidence_1)
        for layer in self.layers:
            x_0, x_1 = layer(x_0, incidence_1)
            x_0 = torch.nn.functional.relu(self.layer_drop(x_0, over=incidence_1))
        return x_0, x_1
