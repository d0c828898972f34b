"""UniGCN layer, as ``topomodelx.nn.hypergraph.unigcn_layer.UniGCNLayer``."""

import torch

from topodist.base.conv import Conv
from topodist.ops import dense
from topodist.ops.batch_norm import CellBatchNorm
from topodist.ops.neighborhood import neighborhood_transpose
from topodist.ops.two_hop import two_hop_matmul

__all__ = ["UniGCNLayer"]


class UniGCNLayer(torch.nn.Module):
    r"""Nodes to hyperedges and back, each a convolution through the incidence.

    .. math::
        h^{(1)} = B_1^T h^{(0)} \Theta_1, \qquad h'^{(0)} = B_1 h^{(1)} \Theta_2

    (``aggr_norm=True`` divides each sum by the number of terms; ``with_linear_transform``
    of the first convolution only when the widths differ, as in TopoModelX 0.0.1.)
    When the hyperedge features are not asked for (``hyperedges=False``) and
    nothing acts on them between the two convolutions (no ``aggr_norm``, no
    batch norm), :math:`h'^{(0)} = (B_1 B_1^T) h^{(0)} \Theta_1 \Theta_2` goes
    through :func:`~topodist.ops.two_hop.two_hop_matmul`: on one device the
    assembled :math:`B_1 B_1^T` when that moves fewer bytes.

    Parameters
    ----------
    in_channels, hidden_channels : int
    aggr_norm : bool, default=False
    use_bn : bool, default=False
        Batch normalization of the hyperedge features
        (:class:`~topodist.ops.batch_norm.CellBatchNorm`: statistics over the
        hyperedges of every part, so a partitioned run equals one device).

    References
    ----------
    Huang and Yang. UniGNN: a unified framework for graph and hypergraph neural
    networks. IJCAI 2021.
    """

    def __init__(
        self, in_channels: int, hidden_channels: int, aggr_norm: bool = False, use_bn: bool = False, **kwargs
    ) -> None:
        super().__init__()
        self.conv_level1_0_to_1 = Conv(
            in_channels=in_channels, out_channels=hidden_channels, aggr_norm=aggr_norm, update_func=None,
            with_linear_transform=in_channels != hidden_channels,
        )
        self.conv_level2_1_to_0 = Conv(
            in_channels=hidden_channels, out_channels=hidden_channels, aggr_norm=aggr_norm, update_func=None
        )
        self.bn = CellBatchNorm(hidden_channels) if use_bn else None

    def reset_parameters(self) -> None:
        """Reset both convolutions and the batch norm."""
        self.conv_level1_0_to_1.reset_parameters()
        self.conv_level2_1_to_0.reset_parameters()
        if self.bn is not None:
            self.bn.reset_parameters()

    def forward(
        self, x_0: torch.Tensor, incidence_1, *, hyperedges: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Forward pass.

        Parameters
        ----------
        x_0 : torch.Tensor, shape = (n_nodes, in_channels)
        incidence_1 : torch.sparse, shape = (n_nodes, n_hyperedges)
        hyperedges : bool, default=True
            Whether to return the hyperedge features (``False``: ``x_1`` is ``None``).

        Returns
        -------
        x_0 : torch.Tensor, shape = (n_nodes, hidden_channels)
        x_1 : torch.Tensor or None, shape = (n_hyperedges, hidden_channels)
        """
        if x_0.shape[-2] != incidence_1.shape[-2]:
            raise ValueError(
                f"Mismatch in number of nodes in features and nodes: {x_0.shape[-2]} and {incidence_1.shape[-2]}."
            )
        to_edges = neighborhood_transpose(incidence_1)
        if not hyperedges and self.bn is None and not self.conv_level2_1_to_0.aggr_norm:
            return self._through_hyperedges(x_0, incidence_1, to_edges), None
        x_1 = self.conv_level1_0_to_1(x_0, to_edges)
        if self.bn is not None:
            x_1 = self.bn(x_1, over=to_edges)
        x_0 = self.conv_level2_1_to_0(x_1, incidence_1)
        return x_0, x_1 if hyperedges else None

    def _through_hyperedges(self, x_0: torch.Tensor, incidence_1, to_edges) -> torch.Tensor:
        """:math:`B_1 (B_1^T x_0 \\Theta_1) \\Theta_2`, the hyperedge features not kept; shape = (n_nodes, hidden)."""
        first, second = self.conv_level1_0_to_1.weight, self.conv_level2_1_to_0.weight
        if first is not None:
            x_0 = dense.matmul(x_0, first)
        x_0 = two_hop_matmul(incidence_1, to_edges, x_0)
        return x_0 if second is None else dense.matmul(x_0, second)
