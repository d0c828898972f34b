"""Simplicial Complex Convolutional Neural Network layer, as ``topomodelx.nn.simplicial.sccnn_layer.SCCNNLayer``."""

from typing import Literal

import torch
from torch.nn.parameter import Parameter

from topodist.nn.updates import apply_update, check_update
from topodist.ops.neighborhood import neighborhood_matmul, neighborhood_transpose
from topodist.ops.polynomial import neighborhood_powers

__all__ = ["SCCNNLayer"]


class SCCNNLayer(torch.nn.Module):
    r"""Polynomial filters within each rank and on the projections from the neighbouring ranks.

    For edges (nodes and faces likewise, with the Laplacians they have):

    .. math::
        h'^{(1)} = \sigma\Big( \sum_{k=0}^{K} L_{\downarrow,1}^k B_1^T h^{(0)} \Theta^{0 \to 1}_k
            + \sum_{k=0}^{K} L_{\downarrow,1}^k h^{(1)} \Theta^{\downarrow}_k
            + \sum_{k=1}^{K} L_{\uparrow,1}^k h^{(1)} \Theta^{\uparrow}_k
            + \sum_{k=0}^{K} L_{\uparrow,1}^k B_2 h^{(2)} \Theta^{2 \to 1}_k \Big)

    The weights of each rank are one tensor ``weight_r`` of shape ``(in, out, n_terms)``
    in TopoModelX's term order. Powers are repeated sparse products (no identity matrix).

    Parameters
    ----------
    in_channels, out_channels : (int, int, int)
        Widths of node, edge and face features.
    conv_order : int
        :math:`K`, at least 1.
    sc_order : int
        2 for complexes of dimension 2 (faces filtered by one Laplacian), 3 and more
        to filter faces by their down and up Laplacians.
    aggr_norm : bool, default=False
        Divide every power by the Laplacian's row sums (computed sparsely).
    update_func : {"relu", "sigmoid", None}, default=None
        TopoModelX 0.0.1 returns None for any other string; topodist raises a ValueError.
    initialization : {"xavier_uniform", "xavier_normal"}, default="xavier_normal"

    References
    ----------
    Yang and Isufi. Convolutional learning on simplicial complexes (2023).
    https://arxiv.org/abs/2301.11163
    """

    def __init__(
        self,
        in_channels: tuple[int, int, int],
        out_channels: tuple[int, int, int],
        conv_order: int,
        sc_order: int,
        aggr_norm: bool = False,
        update_func: Literal["relu", "sigmoid", None] = None,
        initialization: Literal["xavier_uniform", "xavier_normal"] = "xavier_normal",
    ) -> None:
        super().__init__()
        check_update(update_func)
        if initialization not in ("xavier_uniform", "xavier_normal"):
            raise ValueError(f"initialization={initialization!r}: choose 'xavier_uniform' or 'xavier_normal'.")
        if conv_order < 1 or sc_order < 2:
            raise ValueError(f"conv_order={conv_order} must be at least 1 and sc_order={sc_order} at least 2.")
        self.in_channels_0, self.in_channels_1, self.in_channels_2 = in_channels
        self.out_channels_0, self.out_channels_1, self.out_channels_2 = out_channels
        self.conv_order = conv_order
        self.sc_order = sc_order
        self.aggr_norm = aggr_norm
        self.update_func = update_func
        self.initialization = initialization
        k = conv_order
        face_terms = 1 + k + 1 + k + (k if sc_order > 2 else 0)
        self.weight_0 = Parameter(torch.empty(self.in_channels_0, self.out_channels_0, 2 * (1 + k)))
        self.weight_1 = Parameter(torch.empty(self.in_channels_1, self.out_channels_1, 3 * (1 + k) + k))
        self.weight_2 = Parameter(torch.empty(self.in_channels_2, self.out_channels_2, face_terms))
        self.reset_parameters()

    def reset_parameters(self, gain: float = 1.414) -> None:
        """Reset the three weights with ``initialization`` and ``gain``."""
        uniform = self.initialization == "xavier_uniform"
        init = torch.nn.init.xavier_uniform_ if uniform else torch.nn.init.xavier_normal_
        for weight in (self.weight_0, self.weight_1, self.weight_2):
            init(weight, gain=gain)

    def update(self, x: torch.Tensor) -> torch.Tensor:
        """Apply ``update_func``."""
        return apply_update(x, self.update_func)

    def filtered(self, x: torch.Tensor, *laplacians) -> list[torch.Tensor]:
        """``x`` then its powers through each Laplacian in turn, as ``(n, channels, terms)`` pieces."""
        return [x.unsqueeze(-1)] + [
            neighborhood_powers(laplacian, x, self.conv_order, self.aggr_norm) for laplacian in laplacians
        ]

    def forward(self, x_all, laplacian_all, incidence_all):
        """Forward pass.

        Parameters
        ----------
        x_all : (torch.Tensor, torch.Tensor, torch.Tensor)
            Node, edge and face features, shapes ``(n_r, in_channels_r)``.
        laplacian_all : tuple of torch.sparse
            ``(L_0, L_down_1, L_up_1, L_2)`` for ``sc_order == 2``, else
            ``(L_0, L_down_1, L_up_1, L_down_2, L_up_2)``.
        incidence_all : (torch.sparse, torch.sparse)
            :math:`B_1` of shape ``(n_nodes, n_edges)`` and :math:`B_2` of shape ``(n_edges, n_faces)``.

        Returns
        -------
        (torch.Tensor, torch.Tensor, torch.Tensor)
            Shapes ``(n_r, out_channels_r)``.
        """
        x_0, x_1, x_2 = x_all
        if self.sc_order == 2:
            laplacian_0, laplacian_down_1, laplacian_up_1, laplacian_2 = laplacian_all
            laplacians_2, laplacian_1_to_2 = (laplacian_2,), laplacian_2
        else:
            laplacian_0, laplacian_down_1, laplacian_up_1, laplacian_down_2, laplacian_up_2 = laplacian_all
            laplacians_2, laplacian_1_to_2 = (laplacian_down_2, laplacian_up_2), laplacian_down_2
        b1, b2 = incidence_all
        x_0_all = torch.cat(
            self.filtered(x_0, laplacian_0) + self.filtered(neighborhood_matmul(b1, x_1), laplacian_0), dim=-1
        )
        x_1_all = torch.cat(
            self.filtered(neighborhood_matmul(neighborhood_transpose(b1), x_0), laplacian_down_1)
            + self.filtered(x_1, laplacian_down_1, laplacian_up_1)
            + self.filtered(neighborhood_matmul(b2, x_2), laplacian_up_1),
            dim=-1,
        )
        x_2_all = torch.cat(
            self.filtered(x_2, *laplacians_2)
            + self.filtered(neighborhood_matmul(neighborhood_transpose(b2), x_1), laplacian_1_to_2),
            dim=-1,
        )
        y_0 = torch.einsum("nik,iok->no", x_0_all, self.weight_0)
        y_1 = torch.einsum("nik,iok->no", x_1_all, self.weight_1)
        y_2 = torch.einsum("nik,iok->no", x_2_all, self.weight_2)
        return self.update(y_0), self.update(y_1), self.update(y_2)
