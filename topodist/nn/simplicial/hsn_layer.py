"""High Skip Network (HSN) layer, as ``topomodelx.nn.simplicial.hsn_layer.HSNLayer``."""

import torch

from topodist.base.aggregation import Aggregation
from topodist.base.conv import Conv
from topodist.ops.neighborhood import neighborhood_transpose

__all__ = ["HSNLayer"]


class HSNLayer(torch.nn.Module):
    r"""Layer of a High Skip Network: node to node in one and two hops, and node to edge to node.

    .. math::
        \begin{align*}
        m^{(0 \rightarrow 0)} &= A_{\uparrow,0}\, \sigma(A_{\uparrow,0} h^{(0)} \Theta^{(0)1}) \Theta^{(0)2}\\
        m^{(1 \rightarrow 0)} &= B_1\, \sigma(B_1^T h^{(0)} \Theta^{(0 \rightarrow 1)}) \Theta^{(1 \rightarrow 0)}\\
        h'^{(0)} &= \sigma(m^{(0 \rightarrow 0)} + m^{(1 \rightarrow 0)})
        \end{align*}

    Parameters
    ----------
    channels : int
        Dimension of the node features, in and out.

    References
    ----------
    Hajij, Ramamurthy, Guzmán-Sáenz, Zamzmi. High skip networks: a higher order
    generalization of skip connections. GTRL workshop at ICLR 2022.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.conv_level1_0_to_0 = Conv(in_channels=channels, out_channels=channels, update_func="sigmoid")
        self.conv_level1_0_to_1 = Conv(in_channels=channels, out_channels=channels, update_func="sigmoid")
        self.conv_level2_0_to_0 = Conv(in_channels=channels, out_channels=channels, update_func=None)
        self.conv_level2_1_to_0 = Conv(in_channels=channels, out_channels=channels, update_func=None)
        self.aggr_on_nodes = Aggregation(aggr_func="sum", update_func="sigmoid")

    def reset_parameters(self) -> None:
        """Reset the learnable parameters of every convolution."""
        self.conv_level1_0_to_0.reset_parameters()
        self.conv_level1_0_to_1.reset_parameters()
        self.conv_level2_0_to_0.reset_parameters()
        self.conv_level2_1_to_0.reset_parameters()

    def forward(self, x_0: torch.Tensor, incidence_1, adjacency_0) -> torch.Tensor:
        """Forward pass.

        Parameters
        ----------
        x_0 : torch.Tensor, shape = (..., n_nodes, channels)
            Node features.
        incidence_1 : torch.sparse, shape = (n_nodes, n_edges)
            :math:`B_1`; partitioned, its transpose must be partitioned too.
        adjacency_0 : torch.sparse, shape = (n_nodes, n_nodes)
            Upper adjacency of the nodes.

        Returns
        -------
        torch.Tensor, shape = (..., n_nodes, channels)
        """
        x_0_level1 = self.conv_level1_0_to_0(x_0, adjacency_0)
        x_1_level1 = self.conv_level1_0_to_1(x_0, neighborhood_transpose(incidence_1))
        x_0_level2 = self.conv_level2_0_to_0(x_0_level1, adjacency_0)
        x_1_level2 = self.conv_level2_1_to_0(x_1_level1, incidence_1)
        return self.aggr_on_nodes([x_0_level2, x_1_level2])
