"""SCoNe layer, as ``topomodelx.nn.simplicial.scone_layer.SCoNeLayer``."""

from typing import Literal

import torch
from torch.nn.parameter import Parameter

from topodist.base.aggregation import Aggregation
from topodist.ops.neighborhood import neighborhood_matmul, neighborhood_product, neighborhood_transpose

__all__ = ["SCoNeLayer"]


class SCoNeLayer(torch.nn.Module):
    r"""Edge features through the up Laplacian, the identity and the down Laplacian.

    .. math::
        h' = \sigma\big( B_2 B_2^T h \Theta_2 + h \Theta_1 + B_1^T B_1 h \Theta_0 \big)

    The Laplacians are applied as products of incidences; on a partitioned complex
    they stay factored (two one-hop exchanges each, the product never formed).
    The product of incidences goes through ``torch.sparse.mm``, which autocast
    leaves in float32 (``@`` would cast it to half precision, where torch has no
    sparse-sparse product), once per pair of incidence tensors
    (:func:`~topodist.ops.neighborhood.neighborhood_product`).

    Parameters
    ----------
    in_channels, out_channels : int
    update_func : {"relu", "sigmoid", "tanh"}, default="tanh"
        :math:`\sigma`.

    Notes
    -----
    TopoModelX 0.0.1 leaves the weights uninitialized until ``reset_parameters`` is
    called (its ``SCoNe`` calls it); topodist initializes them in the constructor,
    drawing the same numbers in the same order.

    References
    ----------
    Roddenberry, Glaze and Segarra. Principled simplicial neural networks for
    trajectory prediction. ICML 2021.
    """

    def __init__(
        self, in_channels: int, out_channels: int, update_func: Literal["relu", "sigmoid", "tanh"] = "tanh"
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.weight_0 = Parameter(torch.empty(in_channels, out_channels))
        self.weight_1 = Parameter(torch.empty(in_channels, out_channels))
        self.weight_2 = Parameter(torch.empty(in_channels, out_channels))
        self.aggr_on_edges = Aggregation("sum", update_func)
        self.reset_parameters()

    def reset_parameters(self, gain: float = 1.0) -> None:
        """Reset the three weights (xavier uniform)."""
        torch.nn.init.xavier_uniform_(self.weight_0, gain=gain)
        torch.nn.init.xavier_uniform_(self.weight_1, gain=gain)
        torch.nn.init.xavier_uniform_(self.weight_2, gain=gain)

    def forward(self, x: torch.Tensor, incidence_1, incidence_2) -> torch.Tensor:
        """Forward pass.

        Parameters
        ----------
        x : torch.Tensor, shape = (n_edges, in_channels)
        incidence_1 : torch.sparse, shape = (n_nodes, n_edges)
        incidence_2 : torch.sparse, shape = (n_edges, n_faces)

        Returns
        -------
        torch.Tensor, shape = (n_edges, out_channels)
        """
        up_laplacian = neighborhood_product(incidence_2, neighborhood_transpose(incidence_2))
        down_laplacian = neighborhood_product(neighborhood_transpose(incidence_1), incidence_1)
        z1 = neighborhood_matmul(up_laplacian, x) @ self.weight_2
        z2 = x @ self.weight_1
        z3 = neighborhood_matmul(down_laplacian, x) @ self.weight_0
        return self.aggr_on_edges([z1, z2, z3])
