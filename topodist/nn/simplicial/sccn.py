"""Simplicial Complex Convolutional Network, as ``topomodelx.nn.simplicial.sccn.SCCN``."""

from typing import Literal

import torch

from topodist.nn.simplicial.sccn_layer import SCCNLayer

__all__ = ["SCCN"]


class SCCN(torch.nn.Module):
    """Stack of :class:`SCCNLayer`.

    Parameters
    ----------
    channels : int
    max_rank : int
    n_layers : int, default=2
    update_func : {"relu", "sigmoid", "tanh", None}, default="sigmoid"
    """

    def __init__(
        self,
        channels: int,
        max_rank: int,
        n_layers: int = 2,
        update_func: Literal["relu", "sigmoid", "tanh", None] = "sigmoid",
    ) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(
            SCCNLayer(channels=channels, max_rank=max_rank, update_func=update_func) for _ in range(n_layers)
        )

    def forward(self, features: dict, incidences: dict, adjacencies: dict) -> dict:
        """Forward pass; arguments and result as in :meth:`SCCNLayer.forward`."""
        for layer in self.layers:
            features = layer(features, incidences, adjacencies)
        return features
