"""CAN layers, as ``topomodelx.nn.cell.can_layer``: cell attention, the attentional lift and top-k pooling."""

from collections.abc import Callable
from typing import Literal

import torch
from torch.nn import Parameter

from topodist.base.aggregation import Aggregation
from topodist.base.message_passing import MessagePassing
from topodist.distributed.pooling import restrict_neighborhoods, top_cells
from topodist.distributed.readout import global_pool
from topodist.ops.dense import Linear
from topodist.ops.dropout import CellDropout, drop_entries
from topodist.ops.neighborhood import derived_neighborhood, localize, neighborhood_index, propagate_heads
from topodist.ops.scatter import scatter, scatter_softmax

__all__ = [
    "CANLayer",
    "LiftLayer",
    "MultiHeadCellAttention",
    "MultiHeadCellAttention_v2",
    "MultiHeadLiftLayer",
    "PoolLayer",
    "add_self_loops",
]


def add_self_loops(neighborhood: torch.Tensor) -> torch.Tensor:
    """The pattern of ``neighborhood`` plus its diagonal (a loop has weight 1, summed with a stored diagonal).

    Parameters
    ----------
    neighborhood : torch.sparse, shape = (n_rows, n_columns)
        With ``n_columns >= n_rows``: local row ``i`` is column ``i`` (a part's
        owned cells come first among its columns).

    Returns
    -------
    torch.sparse, shape = (n_rows, n_columns)
    """
    neighborhood = neighborhood.coalesce()
    n_rows = neighborhood.shape[0]
    loops = torch.arange(n_rows, device=neighborhood.device).repeat(2, 1)
    indices = torch.cat([neighborhood.indices(), loops], dim=1)
    values = torch.cat(
        [neighborhood.values(), torch.ones(n_rows, dtype=neighborhood.dtype, device=neighborhood.device)]
    )
    return torch.sparse_coo_tensor(indices, values, neighborhood.shape, check_invariants=False).coalesce()


def _has_entries(neighborhood) -> bool:
    """Whether any stored value of the neighborhood is nonzero, over every part."""
    local = neighborhood if isinstance(neighborhood, torch.Tensor) else neighborhood.local
    count = (local.coalesce().values() != 0).sum().to(torch.float64).reshape(1, 1)
    return bool(global_pool(count, "sum", over=neighborhood).item() > 0)


class LiftLayer(MessagePassing):
    r"""One edge signal per head from the features of its two nodes: :math:`\sigma([x_u, x_v] \cdot a_h)`.

    ``adjacency_0`` is read as in TopoModelX: each stored entry ``(u, v)`` of a
    node adjacency gives one row (so pass the upper triangle, in edge order).
    The signed transposed incidence ``incidence_1.T`` (edges x nodes; -1 at an
    edge's first node, +1 at its second) gives the same rows for edges stored
    as increasing node pairs, and is what a partitioned run passes: its rows
    are the edges.

    Parameters
    ----------
    in_channels_0 : int
    heads : int
    signal_lift_activation : callable
    signal_lift_dropout : float
        Stored (the dropout is :class:`MultiHeadLiftLayer`'s).
    """

    def __init__(
        self, in_channels_0: int, heads: int, signal_lift_activation: Callable, signal_lift_dropout: float
    ) -> None:
        super().__init__()
        self.in_channels_0 = in_channels_0
        self.att_parameter = Parameter(torch.empty(size=(2 * in_channels_0, heads)))
        self.signal_lift_activation = signal_lift_activation
        self.signal_lift_dropout = signal_lift_dropout

    def reset_parameters(self) -> None:
        """Xavier-initialize the attention parameter (ReLU gain)."""
        torch.nn.init.xavier_uniform_(self.att_parameter.data, gain=torch.nn.init.calculate_gain("relu"))

    def message(self, x_source: torch.Tensor, x_target: torch.Tensor | None = None) -> torch.Tensor:
        """One signal per head from the two nodes' stacked features."""
        stacked = torch.cat((x_source, x_target), dim=1)
        return self.signal_lift_activation(torch.einsum("ij,jh->ih", stacked, self.att_parameter))

    def forward(self, x_0: torch.Tensor, adjacency_0) -> torch.Tensor:
        """Forward pass.

        Parameters
        ----------
        x_0 : torch.Tensor, shape = (n_nodes, in_channels_0)
        adjacency_0 : torch.sparse or PartitionedNeighborhood
            A node adjacency, shape = (n_nodes, n_nodes), one row per stored entry (one
            device); or the signed ``incidence_1.T``, shape = (n_edges, n_nodes).

        Returns
        -------
        torch.Tensor, shape = (n_entries or n_edges, heads)
        """
        x_all, local, _ = localize(x_0, adjacency_0, None)
        local = local.coalesce()
        signed = bool((local.values() < 0).any()) or getattr(adjacency_0, "ranks", None) == (1, 0)
        if not signed:
            if not isinstance(adjacency_0, torch.Tensor):
                raise ValueError(
                    "a partitioned lift needs the edges as rows: pass the signed incidence_1.T, not a node adjacency."
                )
            source, target = local.indices()
            return self.message(x_all[source], x_all[target])
        edges, nodes = local.indices()
        first, second = local.values() < 0, local.values() > 0
        n_edges = local.shape[0]
        counts = torch.bincount(edges[first], minlength=n_edges), torch.bincount(edges[second], minlength=n_edges)
        if not (bool((counts[0] == 1).all()) and bool((counts[1] == 1).all())):
            raise ValueError(
                "a signed incidence given to the lift needs one -1 (first node) and one +1 (second node) per edge."
            )
        u = torch.zeros(n_edges, dtype=torch.int64, device=x_0.device).index_copy(0, edges[first], nodes[first])
        v = torch.zeros(n_edges, dtype=torch.int64, device=x_0.device).index_copy(0, edges[second], nodes[second])
        return self.message(x_all[u], x_all[v])


class MultiHeadLiftLayer(torch.nn.Module):
    """Lift node features to edges with several heads, read out, drop out, and stack with the edge features.

    Parameters
    ----------
    in_channels_0 : int
    heads : int, default=1
    signal_lift_activation : callable, default=torch.relu
    signal_lift_dropout : float, default=0.0
        :class:`~topodist.ops.dropout.CellDropout` over the edges.
    signal_lift_readout : {"cat", "sum", "avg", "max"}, default="cat"
    """

    def __init__(
        self,
        in_channels_0: int,
        heads: int = 1,
        signal_lift_activation: Callable = torch.relu,
        signal_lift_dropout: float = 0.0,
        signal_lift_readout: str = "cat",
    ) -> None:
        super().__init__()
        if heads <= 0:
            raise ValueError("Number of heads must be > 0")
        if signal_lift_readout not in ("cat", "sum", "avg", "max"):
            raise ValueError(f"signal_lift_readout={signal_lift_readout!r}: choose cat, sum, avg or max.")
        self.in_channels_0 = in_channels_0
        self.heads = heads
        self.signal_lift_readout = signal_lift_readout
        self.signal_lift_dropout = signal_lift_dropout
        self.signal_lift_activation = signal_lift_activation
        self.dropout = CellDropout(signal_lift_dropout)
        self.lifts = LiftLayer(
            in_channels_0=in_channels_0,
            heads=heads,
            signal_lift_activation=signal_lift_activation,
            signal_lift_dropout=signal_lift_dropout,
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Reset the lift."""
        self.lifts.reset_parameters()

    def forward(self, x_0: torch.Tensor, adjacency_0, x_1: torch.Tensor | None = None) -> torch.Tensor:
        """Forward pass.

        Parameters
        ----------
        x_0 : torch.Tensor, shape = (n_nodes, in_channels_0)
        adjacency_0 : see :meth:`LiftLayer.forward`
        x_1 : torch.Tensor, shape = (n_edges, in_channels_1), optional

        Returns
        -------
        torch.Tensor, shape = (n_edges, heads + in_channels_1) with the "cat" readout
        """
        heads = self.lifts(x_0, adjacency_0)
        readouts = {
            "cat": lambda x: x,
            "sum": lambda x: x.sum(dim=1)[:, None],
            "avg": lambda x: x.mean(dim=1)[:, None],
            "max": lambda x: x.max(dim=1).values[:, None],
        }
        lifted = self.dropout(readouts[self.signal_lift_readout](heads), over=adjacency_0)
        return lifted if x_1 is None else torch.cat((lifted, x_1), dim=1)


class PoolLayer(MessagePassing):
    r"""Keep the ``k_pool`` fraction of cells of highest score :math:`x a`, scaled by :math:`\sigma(x a)`.

    The top-k runs over the cells of every part
    (:func:`~topodist.distributed.pooling.top_cells`) and the Laplacians are
    restricted to the kept cells, renumbered best first, as on one device.
    ``kept_cells`` holds, after each call, the ids (in the input's numbering)
    of the output rows.

    Parameters
    ----------
    k_pool : float
        In (0, 1].
    in_channels_0 : int
    signal_pool_activation : callable
    readout : bool, default=True
        Stored; the kept rows are the output either way (TopoModelX's readout
        scatters them back onto themselves).
    """

    def __init__(
        self, k_pool: float, in_channels_0: int, signal_pool_activation: Callable, readout: bool = True, **kwargs
    ) -> None:
        super().__init__()
        if not 0 < k_pool <= 1:
            raise ValueError(f"k_pool={k_pool} must be in (0, 1].")
        self.k_pool = k_pool
        self.in_channels_0 = in_channels_0
        self.readout = readout
        self.att_pool = Parameter(torch.empty(size=(in_channels_0, 1)))
        self.signal_pool_activation = signal_pool_activation
        self.kept_cells: torch.Tensor | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-initialize the scoring vector (ReLU gain)."""
        torch.nn.init.xavier_uniform_(self.att_pool.data, gain=torch.nn.init.calculate_gain("relu"))

    def forward(self, x: torch.Tensor, down_laplacian_1, up_laplacian_1):
        """Forward pass.

        Parameters
        ----------
        x : torch.Tensor, shape = (n_edges, in_channels_0)
        down_laplacian_1, up_laplacian_1 : torch.sparse or PartitionedNeighborhood, shape = (n_edges, n_edges)

        Returns
        -------
        x : torch.Tensor, shape = (k, in_channels_0)
        down_laplacian_1, up_laplacian_1 : shape = (k, k)
        """
        scores = torch.einsum("nc,ce->ne", x, self.att_pool)
        selection = top_cells(scores.view(-1), self.k_pool, over=down_laplacian_1)
        owned_ids = getattr(down_laplacian_1, "target_cells", None)
        self.kept_cells = selection.rows if owned_ids is None else owned_ids[selection.rows]
        out = x[selection.rows] * self.signal_pool_activation(scores)[selection.rows]
        down, up = restrict_neighborhoods([down_laplacian_1, up_laplacian_1], selection)
        return out, down, up


class _CellAttention(MessagePassing):
    """What both versions share: the neighborhood's pattern, the softmax per target and the dropout."""

    def __init__(
        self, in_channels, out_channels, dropout, heads, concat, att_activation, add_self_loops, aggr_func,
        initialization,
    ) -> None:
        super().__init__(aggr_func=aggr_func, att=True, initialization=initialization)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.att_activation = att_activation
        self.heads = heads
        self.concat = concat
        self.dropout = dropout
        self.add_self_loops = add_self_loops

    def _pattern(self, x_source: torch.Tensor, neighborhood):
        x_all, local, _ = localize(x_source, neighborhood, None)
        if self.add_self_loops:
            local = derived_neighborhood("self loops", (local,), lambda: add_self_loops(local))
        index = neighborhood_index(local)
        self.target_index_i, self.source_index_j = index.target_index, index.source_index
        return x_all, index

    def _normalize(self, alpha: torch.Tensor, index, neighborhood) -> torch.Tensor:
        alpha = scatter_softmax(alpha.T, index.target_index, index.n_target_cells).T
        if self.training:
            alpha = drop_entries(alpha, self.dropout, index.target_index, index.source_index, over=neighborhood)
        return alpha

    def _empty(self, x_source: torch.Tensor) -> torch.Tensor:
        width = self.out_channels if self.concat else self.out_channels // self.heads
        return torch.zeros((x_source.shape[0], width), dtype=x_source.dtype, device=x_source.device)

    def _aggregate(self, x_message: torch.Tensor, alpha: torch.Tensor, index) -> torch.Tensor:
        """``AGG_j alpha_ij^h m_j^h`` for each head (a weighted CSR product for sums), then the heads concatenated
        or averaged; ``x_message`` of shape (n_source_cells, heads, channels per head), ``alpha`` (n_entries, heads).
        """
        if self.aggr_func in ("sum", "add"):
            out = propagate_heads(index, x_message, alpha)
        else:
            messages = x_message.index_select(0, index.source_index) * alpha[:, :, None]
            out = scatter(messages, index.target_index, dim=0, dim_size=index.n_target_cells, reduce=self.aggr_func)
        return out.reshape(-1, self.out_channels) if self.concat else out.mean(dim=1)


class MultiHeadCellAttention(_CellAttention):
    r"""Cell attention (GAT-style) over one neighborhood's pattern.

    .. math::
        \alpha_{ij}^h = \operatorname{softmax}_{j}\big(\sigma(\langle W x_j, a^h_{src} \rangle
        + \langle W x_i, a^h_{dst} \rangle)\big), \qquad
        y_i^h = \sum_j \alpha_{ij}^h W x_j

    The neighborhood's values are not read (its pattern is); a neighborhood
    without any nonzero value (over every part) gives zeros. The dropout on
    the attention weights keys each weight on its two global cells, so a
    partitioned run drops the same weights as one device.

    Parameters
    ----------
    in_channels, out_channels : int
    dropout : float
    heads : int
    concat : bool
    att_activation : torch.nn.Module
    add_self_loops : bool, default=False
    aggr_func : {"sum", "mean", "add"}, default="sum"
    initialization : {"xavier_uniform", "xavier_normal"}, default="xavier_uniform"
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        dropout: float,
        heads: int,
        concat: bool,
        att_activation: torch.nn.Module,
        add_self_loops: bool = False,
        aggr_func: Literal["sum", "mean", "add"] = "sum",
        initialization: Literal["xavier_uniform", "xavier_normal"] = "xavier_uniform",
    ) -> None:
        super().__init__(
            in_channels, out_channels, dropout, heads, concat, att_activation, add_self_loops, aggr_func, initialization
        )
        self.lin = Linear(in_channels, out_channels, bias=False)
        self.att_weight_src = Parameter(torch.empty(1, heads, out_channels // heads))
        self.att_weight_dst = Parameter(torch.empty(1, heads, out_channels // heads))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-initialize the attention vectors, reset the linear map."""
        torch.nn.init.xavier_uniform_(self.att_weight_src)
        torch.nn.init.xavier_uniform_(self.att_weight_dst)
        self.lin.reset_parameters()

    def forward(self, x_source: torch.Tensor, neighborhood) -> torch.Tensor:
        """Forward pass.

        Parameters
        ----------
        x_source : torch.Tensor, shape = (n_cells, in_channels)
        neighborhood : torch.sparse or PartitionedNeighborhood, shape = (n_cells, n_cells)

        Returns
        -------
        torch.Tensor, shape = (n_cells, out_channels), or (n_cells, out_channels // heads) without concat
        """
        if not _has_entries(neighborhood):
            return self._empty(x_source)
        x_all, index = self._pattern(x_source, neighborhood)
        x_message = self.lin(x_all).view(-1, self.heads, self.out_channels // self.heads)
        # each cell's two attention terms, once per cell rather than once per stored entry (they are linear in
        # the cell's message), then gathered; the weights' leading dimension (TopoModelX's shape) is dropped so
        # that their gradients come back with the weights' strides, as DDP's buckets expect
        alpha_src = torch.einsum("ijk,jk->ij", x_message, self.att_weight_src.squeeze(0))
        alpha_dst = torch.einsum("ijk,jk->ij", x_message, self.att_weight_dst.squeeze(0))
        alpha = alpha_src.index_select(0, index.source_index) + alpha_dst.index_select(0, index.target_index)
        alpha = self._normalize(self.att_activation(alpha), index, neighborhood)
        return self._aggregate(x_message, alpha, index)


class MultiHeadCellAttention_v2(_CellAttention):  # noqa: N801 (TopoModelX's name)
    r"""Cell attention, GATv2-style.

    .. math::
        \alpha_{ij}^h = \operatorname{softmax}_j \langle \sigma(W_s x_j + W_d x_i), a^h \rangle

    Parameters
    ----------
    in_channels, out_channels : int
    dropout : float
    heads : int
    concat : bool
    att_activation : torch.nn.Module
    add_self_loops : bool, default=True
    aggr_func : {"sum", "mean", "add"}, default="sum"
    initialization : {"xavier_uniform", "xavier_normal"}, default="xavier_uniform"
    share_weights : bool, default=False
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        dropout: float,
        heads: int,
        concat: bool,
        att_activation: torch.nn.Module,
        add_self_loops: bool = True,
        aggr_func: Literal["sum", "mean", "add"] = "sum",
        initialization: Literal["xavier_uniform", "xavier_normal"] = "xavier_uniform",
        share_weights: bool = False,
    ) -> None:
        super().__init__(
            in_channels, out_channels, dropout, heads, concat, att_activation, add_self_loops, aggr_func, initialization
        )
        if share_weights:
            self.lin_src = self.lin_dst = Linear(in_channels, out_channels, bias=False)
        else:
            self.lin_src = Linear(in_channels, out_channels, bias=False)
            self.lin_dst = Linear(in_channels, out_channels, bias=False)
        self.att_weight = Parameter(torch.empty(1, heads, out_channels // heads))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-initialize the attention vector, reset the linear maps."""
        torch.nn.init.xavier_uniform_(self.att_weight)
        self.lin_src.reset_parameters()
        self.lin_dst.reset_parameters()

    def forward(self, x_source: torch.Tensor, neighborhood) -> torch.Tensor:
        """Forward pass; shapes as :meth:`MultiHeadCellAttention.forward`."""
        if not _has_entries(neighborhood):
            return self._empty(x_source)
        x_all, index = self._pattern(x_source, neighborhood)
        shape = (-1, self.heads, self.out_channels // self.heads)
        x_message = self.lin_src(x_all).view(shape)
        source = x_message.index_select(0, index.source_index)
        target = self.lin_dst(x_all).view(shape).index_select(0, index.target_index)
        # the weight's leading dimension dropped, as in MultiHeadCellAttention.forward
        alpha = torch.einsum("ijk,jk->ij", self.att_activation(source + target), self.att_weight.squeeze(0))
        alpha = self._normalize(alpha, index, neighborhood)
        return self._aggregate(x_message, alpha, index)


class CANLayer(torch.nn.Module):
    r"""Cell attention layer: attention over the lower and the upper neighbourhood of the edges, plus a skip.

    .. math::
        x' = \phi\big(\mathrm{att}_{down}(x) + \mathrm{att}_{up}(x) + (1 + 10^{-6})\, x W\big)

    Parameters
    ----------
    in_channels, out_channels : int
    heads : int, default=1
    dropout : float, default=0.0
        On the attention weights.
    concat : bool, default=True
    skip_connection : bool, default=True
    att_activation : torch.nn.Module, optional
        ``LeakyReLU()`` when omitted.
    add_self_loops : bool, default=True
    aggr_func : {"mean", "sum"}, default="sum"
    update_func : {"relu", "sigmoid", "tanh", None}, default="relu"
    version : {"v1", "v2"}, default="v1"
    share_weights : bool, default=False
        v2 only.

    References
    ----------
    Giusti, Battiloro, Testa, Di Lorenzo, Sardellitti and Barbarossa. Cell
    attention networks. IJCNN 2023.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        heads: int = 1,
        dropout: float = 0.0,
        concat: bool = True,
        skip_connection: bool = True,
        att_activation: torch.nn.Module | None = None,
        add_self_loops: bool = True,
        aggr_func: Literal["mean", "sum"] = "sum",
        update_func: Literal["relu", "sigmoid", "tanh"] | None = "relu",
        version: Literal["v1", "v2"] = "v1",
        share_weights: bool = False,
        **kwargs,
    ) -> None:
        super().__init__()
        if att_activation is None:
            att_activation = torch.nn.LeakyReLU()
        if in_channels <= 0 or out_channels <= 0:
            raise ValueError("Number of input and output channels must be > 0")
        if heads <= 0:
            raise ValueError("Number of heads must be > 0")
        if out_channels % heads != 0:
            raise ValueError("Number of output channels must be divisible by the number of heads")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError("Dropout must be in [0,1]")
        if share_weights and version != "v2":
            raise ValueError("Shared weights is valid only for v2")
        if version not in ("v1", "v2"):
            raise ValueError(f"version={version!r}: choose 'v1' or 'v2'.")
        options = dict(
            in_channels=in_channels,
            out_channels=out_channels,
            add_self_loops=add_self_loops,
            dropout=dropout,
            heads=heads,
            att_activation=att_activation,
            concat=concat,
        )
        if version == "v1":
            self.lower_att = MultiHeadCellAttention(**options)
            self.upper_att = MultiHeadCellAttention(**options)
        else:
            self.lower_att = MultiHeadCellAttention_v2(**options, share_weights=share_weights)
            self.upper_att = MultiHeadCellAttention_v2(**options, share_weights=share_weights)
        if skip_connection:
            self.lin = Linear(in_channels, out_channels if concat else out_channels // heads, bias=False)
            self.eps = 1 + 1e-06
        self.aggregation = Aggregation(aggr_func=aggr_func, update_func=update_func)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Reset both attentions and the skip."""
        self.lower_att.reset_parameters()
        self.upper_att.reset_parameters()
        if hasattr(self, "lin"):
            self.lin.reset_parameters()

    def forward(self, x: torch.Tensor, down_laplacian_1, up_laplacian_1) -> torch.Tensor:
        """Forward pass.

        Parameters
        ----------
        x : torch.Tensor, shape = (n_edges, in_channels)
        down_laplacian_1, up_laplacian_1 : torch.sparse or PartitionedNeighborhood, shape = (n_edges, n_edges)

        Returns
        -------
        torch.Tensor, shape = (n_edges, out_channels), or (n_edges, out_channels // heads) without concat
        """
        lower_x = self.lower_att(x, down_laplacian_1)
        upper_x = self.upper_att(x, up_laplacian_1)
        if hasattr(self, "lin"):
            return self.aggregation([lower_x, upper_x, self.lin(x) * self.eps])
        return self.aggregation([lower_x, upper_x])
