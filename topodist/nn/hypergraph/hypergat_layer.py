"""HyperGAT layer, as ``topomodelx.nn.hypergraph.hypergat_layer.HyperGATLayer``."""

from typing import Literal

import torch

from topodist.base.message_passing import MessagePassing
from topodist.nn.updates import apply_update
from topodist.ops.neighborhood import (
    localize,
    neighborhood_index,
    neighborhood_matmul,
    neighborhood_transpose,
    pair_scores,
    propagate,
)
from topodist.ops.scatter import scatter_softmax

__all__ = ["HyperGATLayer"]


class HyperGATLayer(MessagePassing):
    r"""Nodes to hyperedges and back, each aggregation weighted by attention.

    With ``reproduce_topomodelx=False`` (the paper's layer):

    .. math::
        \begin{align*}
        \alpha_{ev} &= \mathrm{softmax}_{v \in e}\; \mathbf{a}_1^T \mathrm{LeakyReLU}(W_1 h_v), &
        h_e &= \sigma\Big(\sum_{v \in e} \alpha_{ev} W_1 h_v\Big)\\
        \beta_{ve} &= \mathrm{softmax}_{e \ni v}\; \mathbf{a}_2^T \mathrm{LeakyReLU}([W_2 h_e \,\|\, W_1 h_v]), &
        h'_v &= \sigma\Big(\sum_{e \ni v} \beta_{ve} W_2 h_e\Big)
        \end{align*}

    TopoModelX 0.0.1 (the default, ``reproduce_topomodelx=True``) applies its softmax
    over a dimension of size 1, so every attention weight is 1 and the layer is
    :math:`h_e = \sigma(B_1^T h W_1)`, :math:`h'_v = \sigma(B_1 h_e W_2)`; its node-level
    scores also read hyperedge features at node indices (an IndexError when there
    are more nodes than hyperedges). topodist computes that layer without the
    no-op attention. Both modes are exact on a partitioned hypergraph (softmax over
    a row's stored entries, which one part owns).

    Parameters
    ----------
    in_channels, hidden_channels : int
    update_func : {"relu", "sigmoid"}, default="relu"
    initialization : {"xavier_uniform", "xavier_normal"}, default="xavier_uniform"
    initialization_gain : float, default=1.414
    reproduce_topomodelx : bool, default=True

    References
    ----------
    Ding, Wang, Li, Li and Liu. Be more with less: hypergraph attention networks
    for inductive text classification. EMNLP 2020.
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        update_func: str = "relu",
        initialization: Literal["xavier_uniform", "xavier_normal"] = "xavier_uniform",
        initialization_gain: float = 1.414,
        reproduce_topomodelx: bool = True,
        **kwargs,
    ) -> None:
        if initialization not in ("xavier_uniform", "xavier_normal"):
            raise ValueError(
                "Initialization method not recognized. Should be either xavier_uniform or xavier_normal."
            )
        if update_func not in ("relu", "sigmoid"):
            raise ValueError(f"update_func={update_func!r} is not supported; choose 'relu' or 'sigmoid'.")
        super().__init__(initialization=initialization, initialization_gain=initialization_gain)
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.update_func = update_func
        self.reproduce_topomodelx = reproduce_topomodelx
        self.weight1 = torch.nn.Parameter(torch.empty(in_channels, hidden_channels))
        self.weight2 = torch.nn.Parameter(torch.empty(hidden_channels, hidden_channels))
        self.att_weight1 = torch.nn.Parameter(torch.zeros(hidden_channels, 1))
        self.att_weight2 = torch.nn.Parameter(torch.zeros(2 * hidden_channels, 1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Reset the two weights and the two attention vectors."""
        uniform = self.initialization == "xavier_uniform"
        init = torch.nn.init.xavier_uniform_ if uniform else torch.nn.init.xavier_normal_
        for parameter in (self.weight1, self.weight2, self.att_weight1, self.att_weight2):
            init(parameter.view(-1, 1) if parameter.shape[-1] == 1 else parameter, gain=self.initialization_gain)

    def update(self, x_message_on_target: torch.Tensor) -> torch.Tensor:
        """:math:`\\sigma`: ReLU or sigmoid."""
        return apply_update(x_message_on_target, self.update_func)

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
        nodes = x_0 @ self.weight1
        to_edges = neighborhood_transpose(incidence_1)
        if self.reproduce_topomodelx:
            messages_on_edges = self.update(neighborhood_matmul(to_edges, nodes))
            return self.update(neighborhood_matmul(incidence_1, messages_on_edges @ self.weight2)), messages_on_edges
        nodes_with_halo, local, _ = localize(nodes, to_edges, None)
        index = neighborhood_index(local)
        # the scores are per node (LeakyReLU and the product act on a node's row): computed per node, then per entry
        scores = torch.nn.functional.leaky_relu(nodes_with_halo) @ self.att_weight1
        scores = scores.index_select(-2, index.source_index)
        alpha = scatter_softmax(scores.squeeze(-1), index.target_index, index.n_target_cells)
        messages_on_edges = self.update(propagate(index, nodes_with_halo, index.values * alpha))
        edges = messages_on_edges @ self.weight2
        edges_with_halo, local, _ = localize(edges, incidence_1, None)
        index = neighborhood_index(local)
        # LeakyReLU acts on each entry of the pair [e_j, n_i], so it can act on each cell before pair_scores
        leaky_relu = torch.nn.functional.leaky_relu
        scores = pair_scores(
            leaky_relu(edges_with_halo), leaky_relu(nodes), self.att_weight2, index.source_index, index.target_index
        ).squeeze(-1)
        beta = scatter_softmax(scores, index.target_index, index.n_target_cells)
        return self.update(propagate(index, edges_with_halo, index.values * beta)), messages_on_edges
