"""UniGIN layer, as ``topomodelx.nn.hypergraph.unigin_layer.UniGINLayer``."""

import torch

from topodist.base.conv import Conv
from topodist.nn.hypergraph.unisage_layer import normalize_rows
from topodist.ops.dense import Linear
from topodist.ops.neighborhood import neighborhood_transpose
from topodist.ops.two_hop import two_hop_matmul

__all__ = ["UniGINLayer"]


class UniGINLayer(torch.nn.Module):
    r"""GIN on a hypergraph.

    .. math::
        h^{(1)} = B_1^T h^{(0)}, \qquad h'^{(0)} = \big((1 + \varepsilon) h^{(0)} + B_1 h^{(1)}\big) W

    TopoModelX 0.0.1 transposes the incidence through a dense matrix; topodist
    transposes it sparsely (same values). Without the hyperedge features
    (``hyperedges=False``), :math:`B_1 B_1^T h^{(0)}` goes through
    :func:`~topodist.ops.two_hop.two_hop_matmul` (on one device the assembled
    :math:`B_1 B_1^T` when that moves fewer bytes).

    Parameters
    ----------
    in_channels : int
    eps : float, default=0.0
    train_eps : bool, default=False
        Learn :math:`\varepsilon` (a parameter) or keep it fixed (a buffer).
    use_norm : bool, default=False

    References
    ----------
    Huang and Yang. UniGNN: a unified framework for graph and hypergraph neural
    networks. IJCAI 2021.
    """

    def __init__(
        self, in_channels: int, eps: float = 0.0, train_eps: bool = False, use_norm: bool = False, **kwargs
    ) -> None:
        super().__init__()
        self.initial_eps = eps
        if train_eps:
            self.eps = torch.nn.Parameter(torch.tensor([float(eps)]))
        else:
            self.register_buffer("eps", torch.tensor([float(eps)]))
        self.linear = Linear(in_channels, in_channels)
        self.use_norm = use_norm
        self.vertex2edge = Conv(in_channels=in_channels, out_channels=in_channels, with_linear_transform=False)
        self.edge2vertex = Conv(in_channels=in_channels, out_channels=in_channels, with_linear_transform=False)

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
        x_0 : torch.Tensor, shape = (n_nodes, in_channels)
        x_1 : torch.Tensor or None, shape = (n_hyperedges, in_channels)
        """
        to_edges = neighborhood_transpose(incidence_1)
        if hyperedges:
            x_1 = self.vertex2edge(x_0, to_edges)
            through_hyperedges = self.edge2vertex(x_1, incidence_1)
        else:
            x_1, through_hyperedges = None, two_hop_matmul(incidence_1, to_edges, x_0)
        x_0 = self.linear((1 + self.eps) * x_0 + through_hyperedges)
        if self.use_norm:
            x_0 = normalize_rows(x_0)
        return x_0, x_1
