"""UniGIN, as ``topomodelx.nn.hypergraph.unigin.UniGIN``."""

import torch

from topodist.nn.hypergraph.unigin_layer import UniGINLayer
from topodist.ops.dense import Linear
from topodist.ops.dropout import CellDropout

__all__ = ["UniGIN"]


class UniGIN(torch.nn.Module):
    """A linear input map, then :class:`UniGINLayer` s, each followed by dropout and a ReLU.

    Dropout is :class:`~topodist.ops.dropout.CellDropout` (see :class:`~topodist.nn.hypergraph.unisage.UniSAGE`).
    As in TopoModelX 0.0.1, ``input_drop`` is constructed but not applied.

    Parameters
    ----------
    in_channels, hidden_channels : int
    n_layers : int, default=2
    input_drop, layer_drop : float, default=0.2
    eps : float, default=0
    train_eps : bool, default=False
    use_norm : bool, default=False
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        n_layers: int = 2,
        input_drop: float = 0.2,
        layer_drop: float = 0.2,
        eps: float = 0,
        train_eps: bool = False,
        use_norm: bool = False,
        **kwargs,
    ) -> None:
        super().__init__()
        self.input_drop = CellDropout(input_drop)
        self.layer_drop = CellDropout(layer_drop)
        self.initial_linear_layer = Linear(in_channels, hidden_channels)
        self.layers = torch.nn.ModuleList(
            UniGINLayer(in_channels=hidden_channels, eps=eps, train_eps=train_eps, use_norm=use_norm, **kwargs)
            for _ in range(n_layers)
        )

    def forward(self, x_0: torch.Tensor, incidence_1) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward pass; ``x_0`` of shape ``(n_nodes, in_channels)``, outputs of width ``hidden_channels``.

        Only the last layer's hyperedge features are returned, so the layers
        before it skip them (``hyperedges=False``).
        """
        x_0 = self.initial_linear_layer(x_0)
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x_0, x_1 = layer(x_0, incidence_1, hyperedges=i == last)
            x_0 = torch.nn.functional.relu(self.layer_drop(x_0, over=incidence_1))
        return x_0, x_1
