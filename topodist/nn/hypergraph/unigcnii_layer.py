"""UniGCNII layer, as ``topomodelx.nn.hypergraph.unigcnii_layer.UniGCNIILayer``."""

import torch

from topodist.base.conv import Conv
from topodist.distributed.readout import global_pool
from topodist.nn.hypergraph.unisage_layer import normalize_rows
from topodist.ops.dense import Linear
from topodist.ops.neighborhood import neighborhood_matmul, neighborhood_transpose
from topodist.ops.polynomial import inverse_row_sums

__all__ = ["UniGCNIILayer"]


class UniGCNIILayer(torch.nn.Module):
    r"""UniGCN with an initial residual and an identity mapping (GCNII on a hypergraph).

    .. math::
        \begin{align*}
        h_e &= \sum_{v \in e} h_v, \qquad
        \tilde d_e = \frac{1}{|e|} \sum_{v \in e} d_v, \qquad
        m_v = \frac{1}{\sqrt{d_v}} \sum_{e \ni v} \frac{h_e}{\sqrt{\tilde d_e}}\\
        x &= (1 - \alpha)\, m + \alpha\, h^{\text{skip}}, \qquad
        h' = (1 - \beta)\, x + \beta\, x W
        \end{align*}

    :math:`d_v` is the number of hyperedges of node :math:`v`. TopoModelX 0.0.1
    computes the degrees through dense matrices; topodist with sparse products
    through the incidence (exact on a partitioned hypergraph). Every node needs a
    hyperedge (add self-loops): otherwise every rank raises a ValueError.

    Parameters
    ----------
    in_channels, hidden_channels : int
    alpha, beta : float
    use_norm : bool, default=False

    References
    ----------
    Huang and Yang. UniGNN: a unified framework for graph and hypergraph neural
    networks. IJCAI 2021.
    """

    def __init__(
        self, in_channels: int, hidden_channels: int, alpha: float, beta: float, use_norm: bool = False, **kwargs
    ) -> None:
        super().__init__()
        self.alpha = alpha
        self.beta = beta
        self.linear = Linear(in_channels, hidden_channels, bias=False)
        self.conv = Conv(in_channels=in_channels, out_channels=in_channels, with_linear_transform=False)
        self.use_norm = use_norm

    def reset_parameters(self) -> None:
        """Reset the linear map."""
        self.linear.reset_parameters()

    def forward(self, x_0: torch.Tensor, incidence_1, x_skip: torch.Tensor | None = None):
        """Forward pass.

        Parameters
        ----------
        x_0 : torch.Tensor, shape = (n_nodes, in_channels)
        incidence_1 : torch.sparse, shape = (n_nodes, n_hyperedges)
        x_skip : torch.Tensor, shape = (n_nodes, in_channels), optional
            The initial features of the residual; ``x_0`` when omitted.

        Returns
        -------
        x_0 : torch.Tensor, shape = (n_nodes, hidden_channels)
        x_1 : torch.Tensor, shape = (n_hyperedges, in_channels)
        """
        x_skip = x_0 if x_skip is None else x_skip
        to_edges = neighborhood_transpose(incidence_1)
        x_1 = self.conv(x_0, to_edges)
        with torch.no_grad():
            node_degree = torch.sparse.sum(incidence_1, dim=1)
            node_degree = (node_degree.to_dense() if node_degree.is_sparse else node_degree).unsqueeze(-1)
            isolated = global_pool((node_degree <= 0).to(x_0.dtype), "sum", over=incidence_1)  # the same on every part
            if isolated.item() > 0:
                raise ValueError(
                    f"{int(isolated.item())} node(s) in no hyperedge: UniGCNII needs positive node degrees "
                    "(include self-loops)."
                )
            edge_degree = neighborhood_matmul(to_edges, node_degree) * inverse_row_sums(to_edges).unsqueeze(-1)
        m_0 = self.conv(x_1 * torch.rsqrt(edge_degree), incidence_1) * torch.rsqrt(node_degree)
        x_combined = (1 - self.alpha) * m_0 + self.alpha * x_skip
        x_0 = (1 - self.beta) * x_combined + self.beta * self.linear(x_combined)
        if self.use_norm:
            x_0 = normalize_rows(x_0)
        return x_0, x_1
