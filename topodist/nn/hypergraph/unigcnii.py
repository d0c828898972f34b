"""UniGCNII, as ``topomodelx.nn.hypergraph.unigcnii.UniGCNII``."""

import math

import torch

from topodist.nn.hypergraph.unigcnii_layer import UniGCNIILayer
from topodist.ops.dense import Linear
from topodist.ops.dropout import CellDropout

__all__ = ["UniGCNII"]


class UniGCNII(torch.nn.Module):
    r"""Input dropout, a linear map and ReLU, then :class:`UniGCNIILayer` s with :math:`\beta_i = \log(\alpha / i + 1)`.

    As in TopoModelX 0.0.1, the ``beta`` argument is not used: layer ``i`` (from 1)
    gets :math:`\log(\alpha / i + 1)`. Dropout is :class:`~topodist.ops.dropout.CellDropout`.

    Parameters
    ----------
    in_channels, hidden_channels : int
    n_layers : int, default=2
    alpha : float, default=0.5
    beta : float, default=0.5
    input_drop, layer_drop : float, default=0.2
    use_norm : bool, default=False
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        n_layers: int = 2,
        alpha: float = 0.5,
        beta: float = 0.5,
        input_drop: float = 0.2,
        layer_drop: float = 0.2,
        use_norm: bool = False,
        **kwargs,
    ) -> None:
        super().__init__()
        self.input_drop = CellDropout(input_drop)
        self.layer_drop = CellDropout(layer_drop)
        self.initial_linear_layer = Linear(in_channels, hidden_channels)
        self.layers = torch.nn.ModuleList(
            UniGCNIILayer(
                in_channels=hidden_channels, hidden_channels=hidden_channels, alpha=alpha,
                beta=math.log(alpha / (i + 1) + 1), use_norm=use_norm, **kwargs,
            )
            for i in range(n_layers)
        )

    def forward(self, x_0: torch.Tensor, incidence_1) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward pass: ``x_0`` of shape ``(n_nodes, in_channels)``, outputs of width ``hidden_channels``."""
        x_0 = self.input_drop(x_0, over=incidence_1)
        x_0 = torch.nn.functional.relu(self.initial_linear_layer(x_0))
        x_0_skip = x_0
        for layer in self.layers:
            x_0, x_1 = layer(x_0, incidence_1, x_0_skip)
            x_0 = torch.nn.functional.relu(self.layer_drop(x_0, over=incidence_1))
        return x_0, x_1
