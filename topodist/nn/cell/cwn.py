"""CWN, as ``topomodelx.nn.cell.cwn.CWN``."""

import torch

from topodist.nn.cell.cwn_layer import CWNLayer
from topodist.ops.activations import elu
from topodist.ops.dense import Linear

__all__ = ["CWN"]


class CWN(torch.nn.Module):
    """Linear maps of node, edge and face features to ``hid_channels``, then CW layers on the edges.

    The layers are :class:`~topodist.nn.cell.cwn_layer.CWNLayer` s.

    Parameters
    ----------
    in_channels_0, in_channels_1, in_channels_2 : int
    hid_channels : int
    n_layers : int
    **kwargs
        Passed to every layer.
    """

    def __init__(
        self, in_channels_0: int, in_channels_1: int, in_channels_2: int, hid_channels: int, n_layers: int, **kwargs
    ) -> None:
        super().__init__()
        self.proj_0 = Linear(in_channels_0, hid_channels)
        self.proj_1 = Linear(in_channels_1, hid_channels)
        self.proj_2 = Linear(in_channels_2, hid_channels)
        self.layers = torch.nn.ModuleList(
            CWNLayer(
                in_channels_0=hid_channels,
                in_channels_1=hid_channels,
                in_channels_2=hid_channels,
                out_channels=hid_channels,
                **kwargs,
            )
            for _ in range(n_layers)
        )

    def forward(self, x_0, x_1, x_2, adjacency_0, incidence_2, incidence_1_t):
        """Forward pass.

        Parameters
        ----------
        x_0 : torch.Tensor, shape = (n_nodes, in_channels_0)
        x_1 : torch.Tensor, shape = (n_edges, in_channels_1)
        x_2 : torch.Tensor, shape = (n_faces, in_channels_2)
        adjacency_0 : torch.sparse, shape = (n_edges, n_edges)
            Upper adjacency of the edges (``adjacency_1`` in topodist's names).
        incidence_2 : torch.sparse, shape = (n_edges, n_faces)
        incidence_1_t : torch.sparse, shape = (n_edges, n_nodes)

        Returns
        -------
        x_0 : torch.Tensor, shape = (n_nodes, hid_channels)
        x_1 : torch.Tensor, shape = (n_edges, hid_channels)
        x_2 : torch.Tensor, shape = (n_faces, hid_channels)
            Only the edges are updated by the layers; nodes and faces are their projections.
        """
        x_0 = elu(self.proj_0(x_0))
        x_1 = elu(self.proj_1(x_1))
        x_2 = elu(self.proj_2(x_2))
        for layer in self.layers:
            x_1 = layer(x_0, x_1, x_2, adjacency_0, incidence_2, incidence_1_t)
        return x_0, x_1, x_2
