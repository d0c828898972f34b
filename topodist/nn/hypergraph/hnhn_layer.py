"""HNHN layer, as ``topomodelx.nn.hypergraph.hnhn_layer.HNHNLayer``."""

from typing import Literal

import torch
from torch.nn.parameter import Parameter

from topodist.base.conv import Conv
from topodist.ops.neighborhood import neighborhood_matmul, neighborhood_transpose

__all__ = ["HNHNLayer", "hnhn_weights"]


def _power_or_zero(values: torch.Tensor, exponent: float) -> torch.Tensor:
    """``values ** exponent`` where ``values > 0``, else 0 (an empty cell contributes nothing)."""
    positive = values > 0
    return torch.where(positive, torch.where(positive, values, torch.ones_like(values)) ** exponent, 0)


def _inverse_or_zero(values: torch.Tensor) -> torch.Tensor:
    nonzero = values != 0
    return torch.where(nonzero, 1 / torch.where(nonzero, values, torch.ones_like(values)), 0)


def hnhn_weights(incidence_1, alpha: float, beta: float) -> dict[str, torch.Tensor]:
    r"""HNHN's cardinality weights, by sparse products through the incidence.

    With :math:`|e|` the number of nodes of hyperedge :math:`e` and :math:`d_v`
    the number of hyperedges of node :math:`v`:

    .. math::
        w_e = |e|^\alpha, \quad w_v = d_v^\beta, \quad
        n_v = \Big(\sum_{e \ni v} w_e\Big)^{-1}, \quad
        n_e = \Big(\sum_{v \in e} w_v\Big)^{-1}

    so that the normalized incidences of the paper are
    :math:`\operatorname{diag}(n_v) B \operatorname{diag}(w_e)` and
    :math:`\operatorname{diag}(n_e) B^T \operatorname{diag}(w_v)`. Empty cells
    get weight 0 (TopoModelX 0.0.1 divides by zero and returns NaN for them).

    Parameters
    ----------
    incidence_1 : torch.sparse or PartitionedNeighborhood, shape = (n_nodes, n_hyperedges)
        A 0/1 incidence; partitioned, its transpose must be partitioned too.
    alpha, beta : float

    Returns
    -------
    dict
        ``node_weight``, ``node_norm``: shape = (n_nodes, 1);
        ``edge_weight``, ``edge_norm``: shape = (n_hyperedges, 1); of the owned cells when partitioned.
    """
    with torch.no_grad():
        transpose = neighborhood_transpose(incidence_1)
        node_degree = torch.sparse.sum(incidence_1, dim=1)
        edge_size = torch.sparse.sum(transpose, dim=1)
        node_degree = (node_degree.to_dense() if node_degree.is_sparse else node_degree).unsqueeze(-1)
        edge_size = (edge_size.to_dense() if edge_size.is_sparse else edge_size).unsqueeze(-1)
        edge_weight = _power_or_zero(edge_size, alpha)
        node_weight = _power_or_zero(node_degree, beta)
        return {
            "node_weight": node_weight,
            "edge_weight": edge_weight,
            "node_norm": _inverse_or_zero(neighborhood_matmul(incidence_1, edge_weight)),
            "edge_norm": _inverse_or_zero(neighborhood_matmul(transpose, node_weight)),
        }


class HNHNLayer(torch.nn.Module):
    r"""Hypergraph networks with hyperedge neurons.

    .. math::
        x_1 = \sigma\big(n_e \odot B^T (w_v \odot x_0) W_{0 \to 1} + b_{0 \to 1}\big), \qquad
        x_0 = \sigma\big(n_v \odot B (w_e \odot x_1') W_{1 \to 0} + b_{1 \to 0}\big)

    with the weights of :func:`hnhn_weights` (when ``use_normalized_incidence``)
    and :math:`x_1'` the hyperedge features before the ReLU. TopoModelX 0.0.1
    builds the normalized incidences as dense matrices with a Python loop per
    cell; topodist applies the same diagonal scalings around sparse products
    (same outputs; exact on a partitioned hypergraph).

    Parameters
    ----------
    in_channels, hidden_channels : int
    incidence_1 : torch.sparse, shape = (n_nodes, n_hyperedges), optional
        Used when ``forward`` gets none. Kept as a plain attribute, not a buffer
        (as in TopoModelX: it is not in the state_dict).
    use_bias : bool, default=True
    use_normalized_incidence : bool, default=True
    alpha : float, default=-1.5
    beta : float, default=-0.5
    bias_gain : float, default=1.414
    bias_init : {"xavier_uniform", "xavier_normal"}, default="xavier_uniform"

    References
    ----------
    Dong, Sawin and Bengio. HNHN: hypergraph networks with hyperedge neurons.
    ICML Graph Representation Learning and Beyond Workshop 2020.
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        incidence_1=None,
        use_bias: bool = True,
        use_normalized_incidence: bool = True,
        alpha: float = -1.5,
        beta: float = -0.5,
        bias_gain: float = 1.414,
        bias_init: Literal["xavier_uniform", "xavier_normal"] = "xavier_uniform",
        **kwargs,
    ) -> None:
        super().__init__()
        if bias_init not in ("xavier_uniform", "xavier_normal"):
            raise ValueError(f"bias_init={bias_init!r}: choose 'xavier_uniform' or 'xavier_normal'.")
        self.use_bias = use_bias
        self.bias_init = bias_init
        self.bias_gain = bias_gain
        self.use_normalized_incidence = use_normalized_incidence
        self.alpha = alpha
        self.beta = beta
        self.incidence_1 = incidence_1
        self.conv_0_to_1 = Conv(in_channels=in_channels, out_channels=hidden_channels, aggr_norm=False)
        self.conv_1_to_0 = Conv(in_channels=hidden_channels, out_channels=hidden_channels, aggr_norm=False)
        if self.use_bias:
            self.bias_1_to_0 = Parameter(torch.empty(1, hidden_channels))
            self.bias_0_to_1 = Parameter(torch.empty(1, hidden_channels))
            self.init_biases()

    def init_biases(self) -> None:
        """Initialize both biases with ``bias_init`` and ``bias_gain``."""
        for bias in (self.bias_0_to_1, self.bias_1_to_0):
            if self.bias_init == "xavier_uniform":
                torch.nn.init.xavier_uniform_(bias, gain=self.bias_gain)
            else:
                torch.nn.init.xavier_normal_(bias, gain=self.bias_gain)

    def reset_parameters(self) -> None:
        """Reset both convolutions and the biases."""
        self.conv_1_to_0.reset_parameters()
        self.conv_0_to_1.reset_parameters()
        if self.use_bias:
            self.init_biases()

    def forward(self, x_0: torch.Tensor, incidence_1=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward pass.

        Parameters
        ----------
        x_0 : torch.Tensor, shape = (n_nodes, in_channels)
        incidence_1 : torch.sparse or PartitionedNeighborhood, shape = (n_nodes, n_hyperedges), optional
            The constructor's incidence when omitted.

        Returns
        -------
        x_0 : torch.Tensor, shape = (n_nodes, hidden_channels)
        x_1 : torch.Tensor, shape = (n_hyperedges, hidden_channels)
        """
        incidence_1 = self.incidence_1 if incidence_1 is None else incidence_1
        if incidence_1 is None:
            raise ValueError("HNHNLayer needs an incidence_1: give it to the constructor or to forward.")
        if isinstance(incidence_1, torch.Tensor):
            incidence_1 = incidence_1.to(x_0.device)
        transpose = neighborhood_transpose(incidence_1)
        if self.use_normalized_incidence:
            weights = hnhn_weights(incidence_1, self.alpha, self.beta)
            x_1 = weights["edge_norm"] * self.conv_0_to_1(weights["node_weight"] * x_0, transpose)
        else:
            x_1 = self.conv_0_to_1(x_0, transpose)
        if self.use_bias:
            x_1 = x_1 + self.bias_0_to_1
        if self.use_normalized_incidence:
            x_0 = weights["node_norm"] * self.conv_1_to_0(weights["edge_weight"] * x_1, incidence_1)
        else:
            x_0 = self.conv_1_to_0(x_1, incidence_1)
        if self.use_bias:
            x_0 = x_0 + self.bias_1_to_0
        return torch.relu(x_0), torch.relu(x_1)
