"""Simplicial 2-complex convolutional layer, as ``topomodelx.nn.simplicial.scconv_layer.SCConvLayer``."""

import torch

from topodist.base.aggregation import Aggregation
from topodist.base.conv import Conv
from topodist.ops.neighborhood import neighborhood_sum, neighborhood_transpose

__all__ = ["SCConvLayer"]


class SCConvLayer(torch.nn.Module):
    r"""Nodes, edges and faces exchange messages through normalized adjacencies and incidences.

    .. math::
        \begin{align*}
        h'^{(0)} &= \sigma(\tilde A_{\uparrow,0} h^{(0)} \Theta^{0 \to 0} + B_1 h^{(1)} \Theta^{1 \to 0})\\
        h'^{(1)} &= \sigma(\tilde B_1^T h^{(0)} \Theta^{0 \to 1}
            + (\tilde A_{\downarrow,1} + \tilde A_{\uparrow,1}) h^{(1)} \Theta^{1 \to 1}
            + B_2 h^{(2)} \Theta^{2 \to 1})\\
        h'^{(2)} &= \sigma(\tilde B_2^T h^{(1)} \Theta^{1 \to 2} + \tilde A_{\downarrow,2} h^{(2)} \Theta^{2 \to 2})
        \end{align*}

    with :math:`\sigma` the sigmoid. The layer reads ``incidence_1.T`` and
    ``incidence_2.T`` for the messages to nodes and edges, and
    ``incidence_1_norm.T``, ``incidence_2_norm.T`` for those to edges and faces,
    as TopoModelX 0.0.1 does: pass each matrix in the orientation that makes
    those products target the right cells.

    Parameters
    ----------
    node_channels, edge_channels, face_channels : int

    References
    ----------
    Bunch, You, Fung and Singh. Simplicial 2-complex convolutional neural
    networks. TDA & Beyond workshop at NeurIPS 2020.
    """

    def __init__(self, node_channels: int, edge_channels: int, face_channels: int) -> None:
        super().__init__()
        self.node_channels = node_channels
        self.edge_channels = edge_channels
        self.face_channels = face_channels
        self.conv_0_to_0 = Conv(in_channels=node_channels, out_channels=node_channels, update_func=None)
        self.conv_0_to_1 = Conv(in_channels=node_channels, out_channels=edge_channels, update_func=None)
        self.conv_1_to_1 = Conv(in_channels=edge_channels, out_channels=edge_channels, update_func=None)
        self.conv_1_to_0 = Conv(in_channels=edge_channels, out_channels=node_channels, update_func=None)
        self.conv_1_to_2 = Conv(in_channels=edge_channels, out_channels=face_channels, update_func=None)
        self.conv_2_to_1 = Conv(in_channels=face_channels, out_channels=edge_channels, update_func=None)
        self.conv_2_to_2 = Conv(in_channels=face_channels, out_channels=face_channels, update_func=None)
        self.aggr_on_nodes = Aggregation(aggr_func="sum", update_func="sigmoid")
        self.aggr_on_edges = Aggregation(aggr_func="sum", update_func="sigmoid")
        self.aggr_on_faces = Aggregation(aggr_func="sum", update_func="sigmoid")

    def reset_parameters(self) -> None:
        """Reset the parameters of every convolution."""
        for conv in (
            self.conv_0_to_0, self.conv_0_to_1, self.conv_1_to_0, self.conv_1_to_1,
            self.conv_1_to_2, self.conv_2_to_1, self.conv_2_to_2,
        ):
            conv.reset_parameters()

    def forward(
        self,
        x_0: torch.Tensor,
        x_1: torch.Tensor,
        x_2: torch.Tensor,
        incidence_1,
        incidence_1_norm,
        incidence_2,
        incidence_2_norm,
        adjacency_up_0_norm,
        adjacency_up_1_norm,
        adjacency_down_1_norm,
        adjacency_down_2_norm,
    ):
        """Forward pass.

        Parameters
        ----------
        x_0, x_1, x_2 : torch.Tensor, shapes = (n_r, channels_r)
            Node, edge and face features.
        incidence_1 : torch.sparse, shape = (n_edges, n_nodes)
            Read as ``incidence_1.T`` (edges to nodes).
        incidence_1_norm : torch.sparse, shape = (n_nodes, n_edges)
            Read as ``incidence_1_norm.T`` (nodes to edges).
        incidence_2 : torch.sparse, shape = (n_faces, n_edges)
            Read as ``incidence_2.T`` (faces to edges).
        incidence_2_norm : torch.sparse, shape = (n_edges, n_faces)
            Read as ``incidence_2_norm.T`` (edges to faces).
        adjacency_up_0_norm : torch.sparse, shape = (n_nodes, n_nodes)
        adjacency_up_1_norm, adjacency_down_1_norm : torch.sparse, shape = (n_edges, n_edges)
        adjacency_down_2_norm : torch.sparse, shape = (n_faces, n_faces)

        Returns
        -------
        x_0, x_1, x_2 : torch.Tensor
            Shapes ``(n_r, channels_r)``.
        """
        x0_level_0_0 = self.conv_0_to_0(x_0, adjacency_up_0_norm)
        x0_level_1_0 = self.conv_1_to_0(x_1, neighborhood_transpose(incidence_1))
        x0_level_0_1 = self.conv_0_to_1(x_0, neighborhood_transpose(incidence_1_norm))
        x1_level_1_1 = self.conv_1_to_1(x_1, neighborhood_sum(adjacency_down_1_norm, adjacency_up_1_norm))
        x2_level_2_1 = self.conv_2_to_1(x_2, neighborhood_transpose(incidence_2))
        x1_level_1_2 = self.conv_1_to_2(x_1, neighborhood_transpose(incidence_2_norm))
        x2_level_2_2 = self.conv_2_to_2(x_2, adjacency_down_2_norm)
        x0_out = self.aggr_on_nodes([x0_level_0_0, x0_level_1_0])
        x1_out = self.aggr_on_edges([x0_level_0_1, x1_level_1_1, x2_level_2_1])
        x2_out = self.aggr_on_faces([x1_level_1_2, x2_level_2_2])
        return x0_out, x1_out, x2_out
