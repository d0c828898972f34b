"""SCoNe, as ``topomodelx.nn.simplicial.scone.SCoNe``.

TopoModelX's module also holds a trajectory dataset generator for its tutorial
(``generate_complex``, ``generate_trajectories``, ``TrajectoriesDataset``);
topodist keeps the model only.
"""

import torch

from topodist.nn.simplicial.scone_layer import SCoNeLayer

__all__ = ["SCoNe"]


class SCoNe(torch.nn.Module):
    """Stack of :class:`SCoNeLayer` on edge features.

    Parameters
    ----------
    in_channels, hidden_channels : int
    n_layers : int
    """

    def __init__(self, in_channels: int, hidden_channels: int, n_layers: int) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.n_layers = n_layers
        self.layers = torch.nn.ModuleList([SCoNeLayer(in_channels, hidden_channels)])
        for _ in range(n_layers - 1):
            self.layers.append(SCoNeLayer(hidden_channels, hidden_channels))

    def forward(self, x: torch.Tensor, incidence_1, incidence_2) -> torch.Tensor:
        """Forward pass; arguments as in :meth:`SCoNeLayer.forward`.

        Returns
        -------
        torch.Tensor, shape = (n_edges, hidden_channels)
        """
        for layer in self.layers:
            x = layer(x, incidence_1, incidence_2)
        return x
