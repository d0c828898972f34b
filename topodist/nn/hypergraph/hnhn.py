"""HNHN, as ``topomodelx.nn.hypergraph.hnhn.HNHN``."""

import torch

from topodist.nn.hypergraph.hnhn_layer import HNHNLayer
from topodist.ops.dropout import CellDropout

__all__ = ["HNHN"]


class HNHN(torch.nn.Module):
    """:class:`HNHNLayer` s, each followed by dropout on the nodes.

    Dropout is :class:`~topodist.ops.dropout.CellDropout`: the same mask on one
    device and on any number of parts.

    Parameters
    ----------
    in_channels, hidden_channels : int
    incidence_1 : torch.sparse, shape = (n_nodes, n_hyperedges), optional
        Required by TopoModelX 0.0.1; topodist also accepts ``None`` and an
        incidence given to ``forward`` (what a partitioned run does).
    n_layers : int, default=2
    layer_drop : float, default=0.2
    **kwargs
        Passed to every :class:`HNHNLayer`.
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        incidence_1=None,
        n_layers: int = 2,
        layer_drop: float = 0.2,
        **kwargs,
    ) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(
            HNHNLayer(
                in_channels=in_channels if i == 0 else hidden_channels,
                hidden_channels=hidden_channels,
                incidence_1=incidence_1,
                **kwargs,
            )
            for i in range(n_layers)
        )
        self.layer_drop = CellDropout(layer_drop)

    def forward(self, x_0: torch.Tensor, incidence_1=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward pass.

        Parameters
        ----------
        x_0 : torch.Tensor, shape = (n_nodes, in_channels)
        incidence_1 : torch.sparse or PartitionedNeighborhood, shape = (n_nodes, n_hyperedges), optional

        Returns
        -------
        x_0 : torch.Tensor, shape = (n_nodes, hidden_channels)
        x_1 : torch.Tensor, shape = (n_hyperedges, hidden_channels)
        """
        incidence_1 = self.layers[0].incidence_1 if incidence_1 is None else incidence_1
        for layer in self.layers:
            x_0, x_1 = layer(x_0, incidence_1)
            x_0 = self.layer_drop(x_0, over=incidence_1)
        return x_0, x_1
