"""Dist2Cycle, as ``topomodelx.nn.simplicial.dist2cycle.Dist2Cycle``."""

import torch

from topodist.nn.simplicial.dist2cycle_layer import Dist2CycleLayer

__all__ = ["Dist2Cycle"]


class Dist2Cycle(torch.nn.Module):
    """Stack of :class:`Dist2CycleLayer`.

    Parameters
    ----------
    channels : int
    n_layers : int, default=2
    reproduce_topomodelx : bool, default=True
        See :class:`Dist2CycleLayer`; ``False`` is the paper's model, which uses the
        features and trains partitioned.
    """

    def __init__(self, channels: int, n_layers: int = 2, reproduce_topomodelx: bool = True) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(
            Dist2CycleLayer(channels=channels, reproduce_topomodelx=reproduce_topomodelx) for _ in range(n_layers)
        )

    def forward(self, x_1e: torch.Tensor, Linv, adjacency) -> torch.Tensor:  # noqa: N803 (TopoModelX's name)
        """Forward pass; arguments as in :meth:`Dist2CycleLayer.forward`.

        Returns
        -------
        torch.Tensor, shape = (n_edges, channels)
        """
        for layer in self.layers:
            x_1e = layer(x_1e, Linv, adjacency)
        return x_1e
