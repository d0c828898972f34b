"""AllSetTransformer layer, as ``topomodelx.nn.hypergraph.allset_transformer_layer``.

TopoModelX 0.0.1 imports its softmax from torch_geometric; topodist computes
the same softmax over each target's messages with
:func:`~topodist.ops.scatter.scatter_softmax`, so torch_geometric is not needed.
"""

from typing import Literal

import torch
import torch.nn.functional as F

from topodist.base.message_passing import MessagePassing
from topodist.nn.hypergraph.allset_layer import MLP, through_hyperedges
from topodist.ops.dropout import CellDropout
from topodist.ops.neighborhood import localize, neighborhood_index, propagate_heads
from topodist.ops.scatter import scatter_softmax

__all__ = ["MLP", "AllSetTransformerBlock", "AllSetTransformerLayer", "MultiHeadAttention"]


class MultiHeadAttention(MessagePassing):
    r"""Attention of one learned query (a seed) over the sources of every target.

    .. math::
        a_{s}^{h} = \mathrm{LeakyReLU}_{0.2}\big(\langle x_s K^h, q^h \rangle\big), \qquad
        m_t^h = \sum_{s \in N(t)} \operatorname{softmax}_{s \in N(t)}(a_s^h)\, x_s V^h

    The neighborhood's values are not read (its pattern is), as in TopoModelX.
    Partitioned, the halo rows of ``x_source`` are fetched first; the softmax
    then runs over all sources of every owned target.

    Parameters
    ----------
    in_channels : int
    hidden_channels : int
        Width per head.
    aggr_norm : bool, default=False
        Stored, unused (as in TopoModelX).
    update_func : optional
        Stored, unused (as in TopoModelX).
    heads : int, default=4
    number_queries : int, default=1
        Only 1 is supported (TopoModelX 0.0.1 fails on more: its query and key
        shapes do not broadcast).
    initialization : {"xavier_uniform", "xavier_normal"}, default="xavier_uniform"
    initialization_gain : float, default=1.414
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        aggr_norm: bool = False,
        update_func=None,
        heads: int = 4,
        number_queries: int = 1,
        initialization: Literal["xavier_uniform", "xavier_normal"] = "xavier_uniform",
        initialization_gain: float = 1.414,
    ) -> None:
        super().__init__(att=True, initialization=initialization, initialization_gain=initialization_gain)
        if number_queries != 1:
            raise ValueError(f"number_queries={number_queries}: only one query per head is supported.")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.aggr_norm = aggr_norm
        self.update_func = update_func
        self.heads = heads
        self.number_queries = number_queries
        self.K_weight = torch.nn.Parameter(torch.randn(heads, in_channels, hidden_channels))
        self.Q_weight = torch.nn.Parameter(torch.randn(heads, number_queries, hidden_channels))
        self.V_weight = torch.nn.Parameter(torch.randn(heads, in_channels, hidden_channels))

    def reset_parameters(self) -> None:
        """Xavier-initialize the key, query and value weights."""
        if self.initialization not in ("xavier_uniform", "xavier_normal"):
            raise RuntimeError(
                "Initialization method not recognized. Should be either xavier_uniform or xavier_normal."
            )
        init = (
            torch.nn.init.xavier_uniform_ if self.initialization == "xavier_uniform" else torch.nn.init.xavier_normal_
        )
        for weight in (self.K_weight, self.Q_weight, self.V_weight):
            init(weight, gain=self.initialization_gain)

    def forward(self, x_source: torch.Tensor, neighborhood) -> torch.Tensor:
        """Forward pass.

        Parameters
        ----------
        x_source : torch.Tensor, shape = (n_source_cells, in_channels)
        neighborhood : torch.sparse or PartitionedNeighborhood, shape = (n_target_cells, n_source_cells)

        Returns
        -------
        torch.Tensor, shape = (n_target_cells, heads, hidden_channels)
        """
        x_source, local, _ = localize(x_source, neighborhood, None)
        index = neighborhood_index(local)
        # <x_s K^h, q^h> = x_s . (K^h q^h): one score per source and head, without the keys
        key_queries = torch.einsum("hid,hd->ih", self.K_weight, self.Q_weight[:, 0])
        scores = F.leaky_relu(x_source @ key_queries, 0.2)  # (n_sources, heads)
        weights = scatter_softmax(
            scores.index_select(0, index.source_index).T, index.target_index, index.n_target_cells
        )  # (heads, n_messages)
        heads, _, width = self.V_weight.shape
        values = (x_source @ self.V_weight.permute(1, 0, 2).reshape(-1, heads * width)).view(-1, heads, width)
        return propagate_heads(index, values, weights.T)


class AllSetTransformerBlock(torch.nn.Module):
    r"""Multi-head attention pooling, then two layer norms around an MLP (a set transformer block).

    .. math::
        h_t = \mathrm{LN}_0\big(\Vert_h (m_t^h + q^h)\big), \qquad
        y_t = \mathrm{LN}_1\big(h_t + \mathrm{ReLU}(\mathrm{MLP}(h_t))\big)

    Parameters
    ----------
    in_channels, hidden_channels : int
        ``hidden_channels`` must be divisible by ``heads``.
    heads : int, default=4
    number_queries : int, default=1
    dropout : float, default=0.0
    mlp_num_layers : int, default=1
    mlp_activation : callable, optional
        ``None`` means ReLU.
    mlp_dropout : float, default=0.0
    mlp_norm : callable, optional
    initialization : {"xavier_uniform", "xavier_normal"}, default="xavier_uniform"
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        heads: int = 4,
        number_queries: int = 1,
        dropout: float = 0.0,
        mlp_num_layers: int = 1,
        mlp_activation=None,
        mlp_dropout: float = 0.0,
        mlp_norm=None,
        initialization: Literal["xavier_uniform", "xavier_normal"] = "xavier_uniform",
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.heads = heads
        self.number_queries = number_queries
        self.dropout = dropout
        self.multihead_att = MultiHeadAttention(
            in_channels=in_channels,
            hidden_channels=hidden_channels // heads,
            heads=heads,
            number_queries=number_queries,
            initialization=initialization,
        )
        self.mlp = MLP(
            in_channels=hidden_channels,
            hidden_channels=[hidden_channels] * mlp_num_layers,
            norm_layer=mlp_norm,
            activation_layer=torch.nn.ReLU if mlp_activation is None else mlp_activation,
            dropout=mlp_dropout,
        )
        self.ln0 = torch.nn.LayerNorm(hidden_channels)
        self.ln1 = torch.nn.LayerNorm(hidden_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Reset the attention and the layer norms (the MLP keeps its initialization, as in TopoModelX)."""
        self.multihead_att.reset_parameters()
        self.ln0.reset_parameters()
        self.ln1.reset_parameters()

    def forward(self, x_source: torch.Tensor, neighborhood) -> torch.Tensor:
        """Forward pass.

        Parameters
        ----------
        x_source : torch.Tensor, shape = (n_source_cells, in_channels)
        neighborhood : torch.sparse or PartitionedNeighborhood, shape = (n_target_cells, n_source_cells)

        Returns
        -------
        torch.Tensor, shape = (n_target_cells, hidden_channels)
        """
        pooled = self.multihead_att(x_source, neighborhood) + self.multihead_att.Q_weight.permute(1, 0, 2)
        pooled = self.ln0(pooled.reshape(pooled.shape[0], self.hidden_channels))
        return self.ln1(pooled + F.relu(self.mlp(pooled, over=neighborhood)))


class AllSetTransformerLayer(torch.nn.Module):
    r"""AllSetTransformer: an :class:`AllSetTransformerBlock` from nodes to hyperedges, then one back.

    Parameters
    ----------
    in_channels, hidden_channels : int
    heads : int, default=4
    number_queries : int, default=1
    dropout : float, default=0.0
    mlp_num_layers : int, default=1
    mlp_activation : callable, default=torch.nn.ReLU
    mlp_dropout : float, default=0.0
    mlp_norm : callable, optional

    References
    ----------
    Chien, Pan, Peng and Milenkovic. You are AllSet: a multiset function
    framework for hypergraph neural networks. ICLR 2022.
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        heads: int = 4,
        number_queries: int = 1,
        dropout: float = 0.0,
        mlp_num_layers: int = 1,
        mlp_activation=torch.nn.ReLU,
        mlp_dropout: float = 0.0,
        mlp_norm=None,
        **kwargs,
    ) -> None:
        super().__init__()
        if heads <= 0:
            raise ValueError(f"heads ({heads}) must be positive")
        if mlp_num_layers <= 0:
            raise ValueError(f"mlp_num_layers ({mlp_num_layers}) must be positive")
        if hidden_channels % heads != 0:
            raise ValueError(f"hidden_channels ({hidden_channels}) must be divisible by heads ({heads})")
        self.dropout = CellDropout(dropout)
        options = dict(
            hidden_channels=hidden_channels,
            heads=heads,
            number_queries=number_queries,
            dropout=dropout,
            mlp_num_layers=mlp_num_layers,
            mlp_activation=mlp_activation,
            mlp_dropout=mlp_dropout,
            mlp_norm=mlp_norm,
        )
        self.vertex2edge = AllSetTransformerBlock(in_channels=in_channels, **options)
        self.edge2vertex = AllSetTransformerBlock(in_channels=hidden_channels, **options)

    def reset_parameters(self) -> None:
        """Reset both blocks."""
        self.vertex2edge.reset_parameters()
        self.edge2vertex.reset_parameters()

    def forward(self, x_0: torch.Tensor, incidence_1) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward pass.

        Parameters
        ----------
        x_0 : torch.Tensor, shape = (n_nodes, in_channels)
        incidence_1 : torch.sparse or PartitionedNeighborhood, shape = (n_nodes, n_hyperedges)
            Partitioned, its transpose must be partitioned too.

        Returns
        -------
        x_0 : torch.Tensor, shape = (n_nodes, hidden_channels)
        x_1 : torch.Tensor, shape = (n_hyperedges, hidden_channels)
        """
        return through_hyperedges(x_0, incidence_1, self.vertex2edge, self.edge2vertex, self.dropout)
