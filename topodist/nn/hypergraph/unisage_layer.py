"""UniSAGE layer, as ``topomodelx.nn.hypergraph.unisage_layer.UniSAGELayer``."""

from typing import Literal

import torch

from topodist.base.conv import Conv
from topodist.ops.dense import Linear
from topodist.ops.neighborhood import neighborhood_transpose

__all__ = ["UniSAGELayer", "normalize_rows"]


def normalize_rows(x: torch.Tensor) -> torch.Tensor:
    """Each row divided by its (detached) Euclidean norm; zero rows stay zero."""
    norm = x.detach().norm(dim=-1, keepdim=True)
    return x * torch.where(norm > 0, 1 / torch.where(norm > 0, norm, torch.ones_like(norm)), torch.zeros_like(norm))


class UniSAGELayer(torch.nn.Module):
    r"""GraphSAGE on a hypergraph: nodes to hyperedges and back, added to the node's own features.

    .. math::
        h = h^{(0)} W, \qquad h^{(1)} = \mathrm{AGG}_e(B_1^T h), \qquad
        h'^{(0)} = h + \mathrm{AGG}_v(B_1 h^{(1)})

    with AGG a sum or a mean (``e_aggr``, ``v_aggr``), and rows normalized when ``use_norm``.

    Parameters
    ----------
    in_channels, hidden_channels : int
    e_aggr, v_aggr : {"sum", "mean"}
    use_norm : bool, default=False

    References
    ----------
    Huang and Yang. UniGNN: a unified framework for graph and hypergraph neural
    networks. IJCAI 2021.
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        e_aggr: Literal["sum", "mean"] = "sum",
        v_aggr: Literal["sum", "mean"] = "mean",
        use_norm: bool = False,
        **kwargs,
    ) -> None:
        super().__init__()
        for aggr in (e_aggr, v_aggr):
            if aggr not in ("sum", "mean"):
                raise ValueError(f"Unsupported aggregator: {aggr}, should be 'sum', 'mean',")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.use_norm = use_norm
        self.e_aggr = e_aggr
        self.v_aggr = v_aggr
        self.linear = Linear(in_channels, hidden_channels)
        self.vertex2edge = Conv(
            hidden_channels, hidden_channels, aggr_norm=e_aggr != "sum", with_linear_transform=False
        )
        self.edge2vertex = Conv(
            hidden_channels, hidden_channels, aggr_norm=v_aggr != "sum", with_linear_transform=False
        )

    def reset_parameters(self) -> None:
        """Reset the linear map."""
        self.linear.reset_parameters()

    def forward(self, x_0: torch.Tensor, incidence_1) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward pass.

        Parameters
        ----------
        x_0 : torch.Tensor, shape = (n_nodes, in_channels)
        incidence_1 : torch.sparse, shape = (n_nodes, n_hyperedges)

        Returns
        -------
        x_0 : torch.Tensor, shape = (n_nodes, hidden_channels)
        x_1 : torch.Tensor, shape = (n_hyperedges, hidden_channels)
        """
        x_0 = self.linear(x_0)
        x_1 = self.vertex2edge(x_0, neighborhood_transpose(incidence_1))
        x_0 = x_0 + self.edge2vertex(x_1, incidence_1)
        if self.use_norm:
            x_0 = normalize_rows(x_0)
        return x_0, x_1
