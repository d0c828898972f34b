"""AllSetTransformer, as ``topomodelx.nn.hypergraph.allset_transformer.AllSetTransformer``."""

import torch

from topodist.nn.hypergraph.allset_transformer_layer import AllSetTransformerLayer

__all__ = ["AllSetTransformer"]


class AllSetTransformer(torch.nn.Module):
    """:class:`~topodist.nn.hypergraph.allset_transformer_layer.AllSetTransformerLayer` s.

    Parameters
    ----------
    in_channels, hidden_channels : int
    n_layers : int, default=1
    heads : int, default=4
    dropout : float, default=0.2
    mlp_num_layers : int, default=2
    mlp_dropout : float, default=0.2
    **kwargs
        Passed to every layer.
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        n_layers: int = 1,
        heads: int = 4,
        dropout: float = 0.2,
        mlp_num_layers: int = 2,
        mlp_dropout: float = 0.2,
        **kwargs,
    ) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(
            AllSetTransformerLayer(
                in_channels=in_channels if i == 0 else hidden_channels,
                hidden_channels=hidden_channels,
                dropout=dropout,
                heads=heads,
                mlp_num_layers=mlp_num_layers,
                mlp_dropout=mlp_dropout,
                **kwargs,
            )
            for i in range(n_layers)
        )

    def forward(self, x_0: torch.Tensor, incidence_1) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward pass; ``x_0`` of shape ``(n_nodes, in_channels)``, outputs of width ``hidden_channels``."""
        for layer in self.layers:
            x_0, x_1 = layer(x_0, incidence_1)
        return x_0, x_1
