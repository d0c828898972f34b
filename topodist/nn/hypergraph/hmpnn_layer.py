"""HMPNN layer, as ``topomodelx.nn.hypergraph.hmpnn_layer.HMPNNLayer``."""

from typing import Literal

import torch

from topodist.distributed.readout import global_pool
from topodist.ops.batch_norm import CellBatchNorm
from topodist.ops.dense import Linear
from topodist.ops.dropout import cell_ids, cell_uniform, draw_key, drop_entries
from topodist.ops.neighborhood import localize, neighborhood_index, neighborhood_transpose, propagate_mean

__all__ = ["HMPNNLayer", "aggregate_over_pattern", "regular_dropout"]

AGGREGATIONS = ("sum", "mean", "add")


def aggregate_over_pattern(
    x_source: torch.Tensor, neighborhood, reduce: str = "sum", entry_dropout: float = 0.0
) -> torch.Tensor:
    r"""Reduce the features of every target's sources, ignoring the neighborhood's values.

    .. math:: y_t = \mathop{\mathrm{reduce}}_{s \,:\, N_{ts} \neq 0} x_s

    Parameters
    ----------
    x_source : torch.Tensor, shape = (n_source_cells, channels)
    neighborhood : torch.sparse or PartitionedNeighborhood, shape = (n_target_cells, n_source_cells)
    reduce : {"sum", "mean", "add"}, default="sum"
    entry_dropout : float, default=0.0
        Drop each (target, source) message with this probability and scale the
        others by ``1 / (1 - p)`` (:func:`~topodist.ops.dropout.drop_entries`:
        keyed on the two global cells, the same on any number of parts).

    Returns
    -------
    torch.Tensor, shape = (n_target_cells, channels)
        Zero for a target without sources.
    """
    if reduce not in AGGREGATIONS:
        raise ValueError(f"reduce={reduce!r}: choose one of {', '.join(AGGREGATIONS)}.")
    x_source, local, _ = localize(x_source, neighborhood, None)
    index = neighborhood_index(local)
    ones = x_source.new_ones(index.source_index.shape[0])
    # a product with one value per stored entry (1, or the dropout's 0 and 1 / (1 - p)): the weighted CSR
    # product where it serves, without a gathered message per entry
    values = drop_entries(ones.unsqueeze(-1), entry_dropout, index.target_index, index.source_index,
                          over=neighborhood).squeeze(-1) if entry_dropout else ones
    return propagate_mean(index, x_source, values, reduce)


def regular_dropout(x: torch.Tensor, p: float, over=None) -> torch.Tensor:
    r"""HMPNN's dropout of TopoModelX 0.0.1, with masks per global cell.

    Keeps each entry with probability ``p`` (a Bernoulli(p) mask :math:`M`) and
    scales row :math:`i` by :math:`(2n - \sum_c M_{ic}) / n`, with :math:`n` the
    number of cells of the rank (over every part).

    Parameters
    ----------
    x : torch.Tensor, shape = (n_cells, channels)
    p : float
        Probability to keep an entry.
    over : torch.sparse or PartitionedNeighborhood, optional
        A neighborhood whose target cells are ``x``'s rows.

    Returns
    -------
    torch.Tensor, shape = (n_cells, channels)
    """
    mask = (cell_uniform(draw_key(), cell_ids(x, over), x.shape[-1]) < p).to(x.dtype)
    n_cells = global_pool(x.new_ones(x.shape[-2], 1), "sum", over=over).detach()
    return x * mask * (2 * n_cells - mask.sum(dim=-1, keepdim=True)) / n_cells


class _Messenger(torch.nn.Module):
    def __init__(self, messaging_func, adjacency_dropout: float = 0.7, aggr_func: str = "sum") -> None:
        super().__init__()
        self.messaging_func = messaging_func
        self.adjacency_dropout = adjacency_dropout
        self.aggr_func = aggr_func
        self.reproduce_topomodelx = True

    def aggregate(self, x: torch.Tensor, neighborhood) -> torch.Tensor:
        """Aggregate over the pattern; with the corrected behaviour, drop messages in training."""
        rate = 0.0 if self.reproduce_topomodelx or not self.training else self.adjacency_dropout
        return aggregate_over_pattern(x, neighborhood, self.aggr_func, entry_dropout=rate)


class _NodeToHyperedgeMessenger(_Messenger):
    def forward(self, x_source: torch.Tensor, to_edges) -> tuple[torch.Tensor, torch.Tensor]:
        x_message = self.messaging_func(x_source)
        return self.aggregate(x_message, to_edges), x_message


class _HyperedgeToNodeMessenger(_Messenger):
    def forward(
        self, x_source: torch.Tensor, incidence_1, node_messages: torch.Tensor, node_messages_aggregated: torch.Tensor
    ) -> torch.Tensor:
        if not self.reproduce_topomodelx and self.training and self.adjacency_dropout:
            # the corrected behaviour, as TopoModelX meant it: this messenger draws its own neighborhood mask
            node_messages_aggregated = self.aggregate(node_messages, neighborhood_transpose(incidence_1))
        x_message = self.messaging_func(x_source, node_messages_aggregated)
        return self.aggregate(x_message, incidence_1)


class _DefaultHyperedgeToNodeMessagingFunc(torch.nn.Module):
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.linear = Linear(2 * in_channels, in_channels)

    def forward(self, x_1: torch.Tensor, m_0: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.linear(torch.cat((x_1, m_0), dim=1)))


class _DefaultUpdatingFunc(torch.nn.Module):
    def __init__(self, in_channels: int) -> None:
        super().__init__()

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x + m)


class HMPNNLayer(torch.nn.Module):
    r"""Hypergraph message passing: nodes to hyperedges and back, then a gated update of both.

    .. math::
        \begin{align*}
        m_v &= \phi_{0 \to 1}(x_v), \qquad M_e = \mathop{\mathrm{agg}}_{v \in e} m_v, \qquad
        m_e = \phi_{1 \to 0}(x_e, M_e), \qquad M_v = \mathop{\mathrm{agg}}_{e \ni v} m_e\\
        x_v' &= \sigma\big(\mathrm{drop}(\mathrm{BN}(x_v)) + M_v\big), \qquad
        x_e' = \sigma\big(\mathrm{drop}(\mathrm{BN}(x_e)) + M_e\big)
        \end{align*}

    with :math:`\phi_{0 \to 1} = \sigma(\mathrm{Linear})`,
    :math:`\phi_{1 \to 0}(x, M) = \sigma(\mathrm{Linear}([x, M]))`
    by default. Batch norms are :class:`~topodist.ops.batch_norm.CellBatchNorm`
    and the dropout :func:`regular_dropout` (masks per global cell), so a
    partitioned run equals one device in training too.

    TopoModelX 0.0.1 applies ``adjacency_dropout`` to the incidence's values and
    then reads only its indices: the adjacency dropout has no effect. topodist
    reproduces that by default; ``reproduce_topomodelx=False`` drops each
    (node, hyperedge) message with probability ``adjacency_dropout`` in
    training, a new mask for each of the three aggregations (as TopoModelX
    draws three), keyed on the global cells.

    Parameters
    ----------
    in_channels : int
    node_to_hyperedge_messaging_func : callable, optional
    hyperedge_to_node_messaging_func : callable, optional
    adjacency_dropout : float, default=0.7
    aggr_func : {"sum", "mean", "add"}, default="sum"
    updating_dropout : float, default=0.5
        Keep probability of :func:`regular_dropout`.
    updating_func : callable, optional
    reproduce_topomodelx : bool, default=True
        ``False``: the adjacency dropout takes effect (see above).

    References
    ----------
    Heydari and Livi. Message passing neural networks for hypergraphs. ICANN 2022.
    """

    def __init__(
        self,
        in_channels: int,
        node_to_hyperedge_messaging_func=None,
        hyperedge_to_node_messaging_func=None,
        adjacency_dropout: float = 0.7,
        aggr_func: Literal["sum", "mean", "add"] = "sum",
        updating_dropout: float = 0.5,
        updating_func=None,
        reproduce_topomodelx: bool = True,
        **kwargs,
    ) -> None:
        super().__init__()
        if aggr_func not in AGGREGATIONS:
            raise ValueError(f"aggr_func={aggr_func!r}: choose one of {AGGREGATIONS}.")
        if not 0.0 <= updating_dropout <= 1.0:
            raise ValueError(f"updating_dropout={updating_dropout} must be between 0 and 1.")
        if node_to_hyperedge_messaging_func is None:
            node_to_hyperedge_messaging_func = torch.nn.Sequential(
                Linear(in_channels, in_channels), torch.nn.Sigmoid()
            )
        self.node_to_hyperedge_messenger = _NodeToHyperedgeMessenger(
            node_to_hyperedge_messaging_func, adjacency_dropout, aggr_func
        )
        if hyperedge_to_node_messaging_func is None:
            hyperedge_to_node_messaging_func = _DefaultHyperedgeToNodeMessagingFunc(in_channels)
        self.hyperedge_to_node_messenger = _HyperedgeToNodeMessenger(
            hyperedge_to_node_messaging_func, adjacency_dropout, aggr_func
        )
        self.node_batchnorm = CellBatchNorm(in_channels)
        self.hyperedge_batchnorm = CellBatchNorm(in_channels)
        self.updating_dropout = updating_dropout
        self.updating_func = _DefaultUpdatingFunc(in_channels) if updating_func is None else updating_func
        self.reproduce_topomodelx = reproduce_topomodelx
        self.node_to_hyperedge_messenger.reproduce_topomodelx = reproduce_topomodelx
        self.hyperedge_to_node_messenger.reproduce_topomodelx = reproduce_topomodelx

    def apply_regular_dropout(self, x: torch.Tensor, over=None) -> torch.Tensor:
        """:func:`regular_dropout` in training, the identity otherwise."""
        return regular_dropout(x, self.updating_dropout, over) if self.training else x

    def forward(self, x_0: torch.Tensor, x_1: torch.Tensor, incidence_1) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward pass.

        Parameters
        ----------
        x_0 : torch.Tensor, shape = (n_nodes, in_channels)
        x_1 : torch.Tensor, shape = (n_hyperedges, in_channels)
        incidence_1 : torch.sparse or PartitionedNeighborhood, shape = (n_nodes, n_hyperedges)
            Partitioned, its transpose must be partitioned too.

        Returns
        -------
        x_0 : torch.Tensor, shape = (n_nodes, in_channels)
        x_1 : torch.Tensor, shape = (n_hyperedges, in_channels)
        """
        to_edges = neighborhood_transpose(incidence_1)
        node_messages_aggregated, node_messages = self.node_to_hyperedge_messenger(x_0, to_edges)
        hyperedge_messages_aggregated = self.hyperedge_to_node_messenger(
            x_1, incidence_1, node_messages, node_messages_aggregated
        )
        x_0 = self.updating_func(
            self.apply_regular_dropout(self.node_batchnorm(x_0, over=incidence_1), incidence_1),
            hyperedge_messages_aggregated,
        )
        x_1 = self.updating_func(
            self.apply_regular_dropout(self.hyperedge_batchnorm(x_1, over=to_edges), to_edges),
            node_messages_aggregated,
        )
        return x_0, x_1
