"""Simplicial Attention Network, as ``topomodelx.nn.simplicial.san.SAN``."""

import torch

from topodist.nn.simplicial.san_layer import SANLayer
from topodist.ops.neighborhood import neighborhood_sum
from topodist.ops.polynomial import HarmonicProjection

__all__ = ["SAN"]


class SAN(torch.nn.Module):
    """Stack of :class:`SANLayer` sharing one harmonic projection.

    Parameters
    ----------
    in_channels, hidden_channels : int
    out_channels : int, optional
        ``hidden_channels`` when omitted.
    n_filters : int, default=2
    order_harmonic : int, default=5
        :math:`K` in :math:`(I - \\varepsilon L)^K`.
    epsilon_harmonic : float, default=0.1
    n_layers : int, default=2
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int | None = None,
        n_filters: int = 2,
        order_harmonic: int = 5,
        epsilon_harmonic: float = 0.1,
        n_layers: int = 2,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.out_channels = out_channels if out_channels is not None else hidden_channels
        self.n_filters = n_filters
        self.order_harmonic = order_harmonic
        self.epsilon_harmonic = epsilon_harmonic
        if n_layers == 1:
            widths = [(in_channels, self.out_channels)]
        else:
            widths = [(in_channels, hidden_channels)]
            widths += [(hidden_channels, hidden_channels)] * (n_layers - 2)
            widths += [(hidden_channels, self.out_channels)]
        self.layers = torch.nn.ModuleList(SANLayer(i, o, n_filters=n_filters) for i, o in widths)

    def compute_projection_matrix(self, laplacian) -> HarmonicProjection:
        r""":math:`(I - \\varepsilon L)^K`, kept as an operator (TopoModelX 0.0.1 forms it densely).

        Parameters
        ----------
        laplacian : torch.sparse or PartitionedNeighborhood, shape = (n_cells, n_cells)

        Returns
        -------
        HarmonicProjection
        """
        return HarmonicProjection(laplacian, self.epsilon_harmonic, self.order_harmonic)

    def forward(self, x: torch.Tensor, laplacian_up, laplacian_down) -> torch.Tensor:
        """Forward pass.

        Parameters
        ----------
        x : torch.Tensor, shape = (n_cells, in_channels)
        laplacian_up, laplacian_down : torch.sparse, shape = (n_cells, n_cells)

        Returns
        -------
        torch.Tensor, shape = (n_cells, out_channels)
        """
        projection_mat = self.compute_projection_matrix(neighborhood_sum(laplacian_up, laplacian_down))
        for layer in self.layers:
            x = layer(x, laplacian_up, laplacian_down, projection_mat)
        return x
