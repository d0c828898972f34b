"""CCXN, as ``topomodelx.nn.cell.ccxn.CCXN``."""

import torch

from topodist.nn.cell.ccxn_layer import CCXNLayer

__all__ = ["CCXN"]


class CCXN(torch.nn.Module):
    """:class:`~topodist.nn.cell.ccxn_layer.CCXNLayer` s.

    Parameters
    ----------
    in_channels_0, in_channels_1, in_channels_2 : int
    n_layers : int, default=2
    att : bool, default=False
    """

    def __init__(
        self,
        in_channels_0: int,
        in_channels_1: int,
        in_channels_2: int,
        n_layers: int = 2,
        att: bool = False,
        **kwargs,
    ) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(
            CCXNLayer(
                in_channels_0=in_channels_0, in_channels_1=in_channels_1, in_channels_2=in_channels_2, att=att, **kwargs
            )
            for _ in range(n_layers)
        )

    def forward(self, x_0, x_1, adjacency_0, incidence_2_t):
        """Forward pass.

        Parameters
        ----------
        x_0 : torch.Tensor, shape = (n_nodes, in_channels_0)
        x_1 : torch.Tensor, shape = (n_edges, in_channels_1)
        adjacency_0 : torch.sparse, shape = (n_nodes, n_nodes)
        incidence_2_t : torch.sparse, shape = (n_faces, n_edges)

        Returns
        -------
        x_0, x_1, x_2 : torch.Tensor
            Of widths ``in_channels_0``, ``in_channels_1``, ``in_channels_2``.
        """
        for layer in self.layers:
            x_0, x_1, x_2 = layer(x_0, x_1, adjacency_0, incidence_2_t)
        return x_0, x_1, x_2
