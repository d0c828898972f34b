"""HyperGAT, as ``topomodelx.nn.hypergraph.hypergat.HyperGAT``."""

import torch

from topodist.nn.hypergraph.hypergat_layer import HyperGATLayer
from topodist.ops.dropout import CellDropout

__all__ = ["HyperGAT"]


class HyperGAT(torch.nn.Module):
    """Stack of :class:`HyperGATLayer`, each followed by (cell) dropout on the nodes.

    Parameters
    ----------
    in_channels, hidden_channels : int
    n_layers : int, default=2
    layer_drop : float, default=0.2
    **kwargs
        Passed to every layer (``update_func``, ``reproduce_topomodelx``, ...).
    """

    def __init__(
        self, in_channels: int, hidden_channels: int, n_layers: int = 2, layer_drop: float = 0.2, **kwargs
    ) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(
            HyperGATLayer(in_channels if i == 0 else hidden_channels, hidden_channels=hidden_channels, **kwargs)
            for i in range(n_layers)
        )
        self.layer_drop = CellDropout(layer_drop)

    def forward(self, x_0: torch.Tensor, incidence_1) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward pass; shapes as in :meth:`HyperGATLayer.forward`."""
        for layer in self.layers:
            x_0, x_1 = layer(x_0, incidence_1)
            x_0 = self.layer_drop(x_0, over=incidence_1)
        return x_0, x_1
