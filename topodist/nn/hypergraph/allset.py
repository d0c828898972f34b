"""AllSet, as ``topomodelx.nn.hypergraph.allset.AllSet``."""

import torch

from topodist.nn.hypergraph.allset_layer import AllSetLayer

__all__ = ["AllSet"]


class AllSet(torch.nn.Module):
    """:class:`~topodist.nn.hypergraph.allset_layer.AllSetLayer` s.

    Parameters
    ----------
    in_channels, hidden_channels : int
    n_layers : int, default=2
    layer_dropout : float, default=0.2
    mlp_num_layers : int, default=2
    mlp_activation : callable, optional
        ``None`` (the default) means ReLU, the layer's default; TopoModelX 0.0.1
        calls ``None`` and fails whenever ``mlp_num_layers >= 2``.
    mlp_dropout : float, default=0.0
    mlp_norm : callable, optional
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        n_layers: int = 2,
        layer_dropout: float = 0.2,
        mlp_num_layers: int = 2,
        mlp_activation=None,
        mlp_dropout: float = 0.0,
        mlp_norm=None,
        **kwargs,
    ) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(
            AllSetLayer(
                in_channels=in_channels if i == 0 else hidden_channels,
                hidden_channels=hidden_channels,
                dropout=layer_dropout,
                mlp_num_layers=mlp_num_layers,
                mlp_activation=mlp_activation,
                mlp_dropout=mlp_dropout,
                mlp_norm=mlp_norm,
                **kwargs,
            )
            for i in range(n_layers)
        )

    def forward(self, x_0: torch.Tensor, incidence_1) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward pass; ``x_0`` of shape ``(n_nodes, in_channels)``, outputs of width ``hidden_channels``."""
        for layer in self.layers:
            x_0, x_1 = layer(x_0, incidence_1)
        return x_0, x_1
