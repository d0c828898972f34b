"""UniGCN, as ``topomodelx.nn.hypergraph.unigcn.UniGCN``."""

import torch

from topodist.nn.hypergraph.unigcn_layer import UniGCNLayer

__all__ = ["UniGCN"]


class UniGCN(torch.nn.Module):
    """Stack of :class:`UniGCNLayer`.

    Parameters
    ----------
    in_channels, hidden_channels : int
    n_layers : int, default=2
    **kwargs
        Passed to every layer (``aggr_norm``, ``use_bn``).
    """

    def __init__(self, in_channels: int, hidden_channels: int, n_layers: int = 2, **kwargs) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(
            UniGCNLayer(in_channels if i == 0 else hidden_channels, hidden_channels=hidden_channels, **kwargs)
            for i in range(n_layers)
        )

    def forward(self, x_0: torch.Tensor, incidence_1) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward pass; shapes as in :meth:`UniGCNLayer.forward`.

        Only the last layer's hyperedge features are returned, so the layers
        before it skip them (``hyperedges=False``).
        """
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x_0, x_1 = layer(x_0, incidence_1, hyperedges=i == last)
        return x_0, x_1
