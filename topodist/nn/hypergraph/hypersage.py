"""HyperSAGE, as ``topomodelx.nn.hypergraph.hypersage.HyperSAGE``."""

import torch

from topodist.nn.hypergraph.hypersage_layer import HyperSAGELayer

__all__ = ["HyperSAGE"]


class HyperSAGE(torch.nn.Module):
    """Stack of :class:`HyperSAGELayer`.

    Parameters
    ----------
    in_channels, hidden_channels : int
    n_layers : int, default=2
    alpha : int, default=-1
    **kwargs
        Passed to every layer.
    """

    def __init__(self, in_channels: int, hidden_channels: int, n_layers: int = 2, alpha: int = -1, **kwargs) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(
            HyperSAGELayer(
                in_channels=in_channels if i == 0 else hidden_channels, out_channels=hidden_channels, alpha=alpha,
                **kwargs,
            )
            for i in range(n_layers)
        )

    def forward(self, x_0: torch.Tensor, incidence_1) -> torch.Tensor:
        """Forward pass: node features of shape ``(n_nodes, hidden_channels)``."""
        for layer in self.layers:
            x_0 = layer(x_0, incidence_1)
        return x_0
