"""HMC layer, as ``topomodelx.nn.combinatorial.hmc_layer``: attention within a rank (HBS) and between two (HBNS)."""

import torch
import torch.nn.functional as F
from torch.nn.parameter import Parameter

from topodist.base.aggregation import Aggregation
from topodist.ops.neighborhood import localize, neighborhood_index, neighborhood_transpose, pair_scores, propagate
from topodist.ops.scatter import scatter, scatter_softmax

__all__ = ["HBNS", "HBS", "HMCLayer"]

UPDATES = ("sigmoid", "relu", "tanh")


def _init(initialization: str):
    if initialization == "xavier_uniform":
        return torch.nn.init.xavier_uniform_
    if initialization == "xavier_normal":
        return torch.nn.init.xavier_normal_
    raise RuntimeError("Initialization method not recognized. Should be either xavier_uniform or xavier_normal.")


def _apply_update(update_func: str | None, x: torch.Tensor) -> torch.Tensor:
    if update_func == "sigmoid":
        return torch.sigmoid(x)
    if update_func == "relu":
        return F.relu(x)
    if update_func == "tanh":
        return torch.tanh(x)
    return x


def _normalize_rows(scores: torch.Tensor, rows: torch.Tensor, n_rows: int, softmax: bool) -> torch.Tensor:
    """Softmax over each row's stored entries, or division by the row's sum (TopoModelX's ``sparse_row_norm``)."""
    if softmax:
        return scatter_softmax(scores, rows, n_rows)
    return scores / scatter(scores, rows, dim=-1, dim_size=n_rows).index_select(-1, rows)


def _attend(x_rows, x_columns_all, neighborhood_local, att_weight, negative_slope, softmax, messages_all):
    """``sum_j a_ij N_ij m_j`` with ``a_ij`` the row-normalized ``LeakyReLU([x_columns_j, x_rows_i] . att)``."""
    index = neighborhood_index(neighborhood_local)
    rows, columns = index.target_index, index.source_index
    pairs = pair_scores(x_columns_all, x_rows, att_weight, columns, rows)
    scores = F.leaky_relu(pairs, negative_slope=negative_slope).squeeze(1)
    weights = _normalize_rows(scores, rows, index.n_target_cells, softmax) * index.values
    return propagate(index, messages_all, weights)


class HBNS(torch.nn.Module):
    r"""Higher-order attention between two ranks: both directions of one incidence.

    .. math::
        \begin{align*}
        m_t &= \sum_{s} \operatorname{norm}_s\big(\mathrm{LeakyReLU}([x_s W_s, x_t W_t] \cdot a)\big) N_{ts}\, x_s W_s\\
        m_s &= \sum_{t} \operatorname{norm}_t\big(\mathrm{LeakyReLU}([x_t W_t, x_s W_s] \cdot a')\big) N_{ts}\, x_t W_t
        \end{align*}

    with :math:`a'` the halves of :math:`a` swapped and norm a softmax over the
    row's entries (``softmax=True``) or division by their sum. Partitioned, the
    incidence's transpose must be partitioned too (the source-side messages are
    its rows).

    TopoModelX 0.0.1 splits :math:`a` at ``source_out_channels`` where the
    first half has ``target_out_channels`` entries: when the two widths differ,
    the source-side scores pair features with the wrong weights. topodist
    reproduces that by default; ``reproduce_topomodelx=False`` splits at
    ``target_out_channels`` (both directions then score a pair alike).

    Parameters
    ----------
    source_in_channels, source_out_channels, target_in_channels, target_out_channels : int
    negative_slope : float, default=0.2
    softmax : bool, default=False
    update_func : {"sigmoid", "relu", "tanh", None}, default=None
    initialization : {"xavier_uniform", "xavier_normal"}, default="xavier_uniform"
    reproduce_topomodelx : bool, default=True
    """

    def __init__(
        self,
        source_in_channels: int,
        source_out_channels: int,
        target_in_channels: int,
        target_out_channels: int,
        negative_slope: float = 0.2,
        softmax: bool = False,
        update_func: str | None = None,
        initialization: str = "xavier_uniform",
        reproduce_topomodelx: bool = True,
    ) -> None:
        super().__init__()
        self.reproduce_topomodelx = reproduce_topomodelx
        self.initialization = initialization
        self.source_in_channels, self.source_out_channels = source_in_channels, source_out_channels
        self.target_in_channels, self.target_out_channels = target_in_channels, target_out_channels
        self.update_func = update_func
        self.w_s = Parameter(torch.empty(source_in_channels, target_out_channels))
        self.w_t = Parameter(torch.empty(target_in_channels, source_out_channels))
        self.att_weight = Parameter(torch.empty(target_out_channels + source_out_channels, 1))
        self.negative_slope = negative_slope
        self.softmax = softmax
        self.reset_parameters()

    def get_device(self) -> torch.device:
        """Device of the weights."""
        return self.w_s.device

    def reset_parameters(self, gain: float = 1.414) -> None:
        """Xavier-initialize the weights."""
        init = _init(self.initialization)
        for weight in (self.w_s, self.w_t, self.att_weight):
            init(weight, gain=gain)

    def update(self, message_on_source: torch.Tensor, message_on_target: torch.Tensor):
        """Apply ``update_func`` to both messages."""
        return _apply_update(self.update_func, message_on_source), _apply_update(self.update_func, message_on_target)

    def forward(self, x_source: torch.Tensor, x_target: torch.Tensor, neighborhood):
        """Forward pass.

        Parameters
        ----------
        x_source : torch.Tensor, shape = (n_source_cells, source_in_channels)
        x_target : torch.Tensor, shape = (n_target_cells, target_in_channels)
        neighborhood : torch.sparse or PartitionedNeighborhood, shape = (n_target_cells, n_source_cells)

        Returns
        -------
        message_on_source : torch.Tensor, shape = (n_source_cells, source_out_channels)
        message_on_target : torch.Tensor, shape = (n_target_cells, target_out_channels)
        """
        s_message = torch.mm(x_source, self.w_s)
        t_message = torch.mm(x_target, self.w_t)
        s_all, local, _ = localize(s_message, neighborhood, None)
        message_on_target = _attend(t_message, s_all, local, self.att_weight, self.negative_slope, self.softmax, s_all)
        split = self.source_out_channels if self.reproduce_topomodelx else self.target_out_channels
        swapped = torch.cat([self.att_weight[split:], self.att_weight[:split]])
        t_all, local_t, _ = localize(t_message, neighborhood_transpose(neighborhood), None)
        message_on_source = _attend(s_message, t_all, local_t, swapped, self.negative_slope, self.softmax, t_all)
        if self.update_func is None:
            return message_on_source, message_on_target
        return self.update(message_on_source, message_on_target)


class HBS(torch.nn.Module):
    r"""Higher-order attention within one rank, over ``m_hop`` powers of its neighborhood.

    .. math::
        m_i = \sum_{p=1}^{P} \sum_j \operatorname{norm}_j\big(\mathrm{LeakyReLU}([x_i W_p, x_j W_p] \cdot a_p)\big)
        (N^p)_{ij}\, x_j W_p

    Parameters
    ----------
    source_in_channels, source_out_channels : int
    negative_slope : float, default=0.2
    softmax : bool, default=False
    m_hop : int, default=1
        Partitioned, only 1 (a power of a partitioned neighborhood reaches
        beyond its halo); on one device any.
    update_func : {"sigmoid", "relu", "tanh", None}, default=None
    initialization : {"xavier_uniform", "xavier_normal"}, default="xavier_uniform"
    """

    def __init__(
        self,
        source_in_channels: int,
        source_out_channels: int,
        negative_slope: float = 0.2,
        softmax: bool = False,
        m_hop: int = 1,
        update_func: str | None = None,
        initialization: str = "xavier_uniform",
    ) -> None:
        super().__init__()
        if update_func is not None and update_func not in UPDATES:
            raise ValueError(f"update_func={update_func!r}: choose one of {UPDATES} or None.")
        self.initialization = initialization
        self.source_in_channels = source_in_channels
        self.source_out_channels = source_out_channels
        self.m_hop = m_hop
        self.update_func = update_func
        self.weight = torch.nn.ParameterList(
            Parameter(torch.empty(source_in_channels, source_out_channels)) for _ in range(m_hop)
        )
        self.att_weight = torch.nn.ParameterList(
            Parameter(torch.empty(2 * source_out_channels, 1)) for _ in range(m_hop)
        )
        self.negative_slope = negative_slope
        self.softmax = softmax
        self.reset_parameters()

    def get_device(self) -> torch.device:
        """Device of the weights."""
        return self.weight[0].device

    def reset_parameters(self, gain: float = 1.414) -> None:
        """Xavier-initialize every hop's weights."""
        init = _init(self.initialization)
        for weight, att_weight in zip(self.weight, self.att_weight, strict=True):
            init(weight, gain=gain)
            init(att_weight.view(-1, 1), gain=gain)

    def update(self, message: torch.Tensor) -> torch.Tensor:
        """Apply ``update_func``."""
        return _apply_update(self.update_func, message)

    def forward(self, x_source: torch.Tensor, neighborhood) -> torch.Tensor:
        """Forward pass.

        Parameters
        ----------
        x_source : torch.Tensor, shape = (n_cells, source_in_channels)
        neighborhood : torch.sparse or PartitionedNeighborhood, shape = (n_cells, n_cells)

        Returns
        -------
        torch.Tensor, shape = (n_cells, source_out_channels)
        """
        if self.m_hop > 1 and not isinstance(neighborhood, torch.Tensor):
            raise ValueError(
                f"m_hop={self.m_hop} on a partitioned neighborhood: its powers reach beyond the halo; partition "
                "the power as its own neighborhood or use m_hop=1."
            )
        powers = [neighborhood]
        for _ in range(1, self.m_hop):
            powers.append(torch.sparse.mm(powers[-1], neighborhood).coalesce())
        result = None
        for weight, att_weight, power in zip(self.weight, self.att_weight, powers, strict=True):
            message = torch.mm(x_source, weight)
            message_all, local, _ = localize(message, power, None)
            # pairs are [row, column]: _attend concatenates [column features, row features], so swap the halves
            swapped = torch.cat([att_weight[self.source_out_channels :], att_weight[: self.source_out_channels]])
            term = _attend(message, message_all, local, swapped, self.negative_slope, self.softmax, message_all)
            result = term if result is None else result + term
        return result if self.update_func is None else self.update(result)


class HMCLayer(torch.nn.Module):
    r"""Higher-order message passing on a combinatorial complex of ranks 0, 1, 2 (two levels).

    Level 1: nodes from nodes (HBS) and from edges (HBNS), edges from nodes and
    from faces, faces from edges. Level 2: each rank from its own adjacency
    (HBS) and from the rank below (HBNS). Each level sums its messages and
    applies ``update_func_aggregation``.

    Parameters
    ----------
    in_channels, intermediate_channels, out_channels : list of 3 int
    negative_slope : float
    softmax_attention : bool, default=False
    update_func_attention, update_func_aggregation : {"sigmoid", "relu", "tanh", None}, optional
    initialization : {"xavier_uniform", "xavier_normal"}, default="xavier_uniform"
    reproduce_topomodelx : bool, default=True
        Passed to every :class:`HBNS`.

    References
    ----------
    Hajij, Ramamurthy, Guzmán-Sáenz and Zamzmi. High skip networks: a higher
    order generalization of skip connections. ICLR 2022 Workshop on Geometrical
    and Topological Representation Learning.
    """

    def __init__(
        self,
        in_channels: list[int],
        intermediate_channels: list[int],
        out_channels: list[int],
        negative_slope: float,
        softmax_attention: bool = False,
        update_func_attention: str | None = None,
        update_func_aggregation: str | None = None,
        initialization: str = "xavier_uniform",
        reproduce_topomodelx: bool = True,
    ) -> None:
        super().__init__()
        if not len(in_channels) == len(intermediate_channels) == len(out_channels) == 3:
            raise ValueError("in_channels, intermediate_channels and out_channels need one width per rank 0, 1, 2.")
        in_0, in_1, in_2 = in_channels
        mid_0, mid_1, mid_2 = intermediate_channels
        out_0, out_1, out_2 = out_channels
        options = dict(
            negative_slope=negative_slope,
            softmax=softmax_attention,
            update_func=update_func_attention,
            initialization=initialization,
        )
        self.hbs_0_level1 = HBS(source_in_channels=in_0, source_out_channels=mid_0, **options)
        options_between = {**options, "reproduce_topomodelx": reproduce_topomodelx}
        self.hbns_0_1_level1 = HBNS(
            source_in_channels=in_1,
            source_out_channels=mid_1,
            target_in_channels=in_0,
            target_out_channels=mid_0,
            **options_between,
        )
        self.hbns_1_2_level1 = HBNS(
            source_in_channels=in_2,
            source_out_channels=mid_2,
            target_in_channels=in_1,
            target_out_channels=mid_1,
            **options_between,
        )
        self.hbs_0_level2 = HBS(source_in_channels=mid_0, source_out_channels=out_0, **options)
        self.hbns_0_1_level2 = HBNS(
            source_in_channels=mid_1,
            source_out_channels=out_1,
            target_in_channels=mid_0,
            target_out_channels=out_0,
            **options_between,
        )
        self.hbs_1_level2 = HBS(source_in_channels=mid_1, source_out_channels=out_1, **options)
        self.hbns_1_2_level2 = HBNS(
            source_in_channels=mid_2,
            source_out_channels=out_2,
            target_in_channels=mid_1,
            target_out_channels=out_1,
            **options_between,
        )
        self.hbs_2_level2 = HBS(source_in_channels=mid_2, source_out_channels=out_2, **options)
        self.aggr = Aggregation(aggr_func="sum", update_func=update_func_aggregation)

    def forward(self, x_0, x_1, x_2, adjacency_0, adjacency_1, coadjacency_2, incidence_1, incidence_2):
        """Forward pass.

        Parameters
        ----------
        x_0, x_1, x_2 : torch.Tensor, shape = (n_cells[k], in_channels[k])
        adjacency_0 : torch.sparse, shape = (n_nodes, n_nodes)
        adjacency_1 : torch.sparse, shape = (n_edges, n_edges)
        coadjacency_2 : torch.sparse, shape = (n_faces, n_faces)
        incidence_1 : torch.sparse, shape = (n_nodes, n_edges)
        incidence_2 : torch.sparse, shape = (n_edges, n_faces)
            Partitioned, the transposes of both incidences must be partitioned too.

        Returns
        -------
        x_0, x_1, x_2 : torch.Tensor, shape = (n_cells[k], out_channels[k])
        """
        x_0_to_0 = self.hbs_0_level1(x_0, adjacency_0)
        x_0_to_1, x_1_to_0 = self.hbns_0_1_level1(x_1, x_0, incidence_1)
        x_1_to_2, x_2_to_1 = self.hbns_1_2_level1(x_2, x_1, incidence_2)
        x_0_level1 = self.aggr([x_0_to_0, x_1_to_0])
        x_1_level1 = self.aggr([x_0_to_1, x_2_to_1])
        x_2_level1 = self.aggr([x_1_to_2])
        x_0_to_0 = self.hbs_0_level2(x_0_level1, adjacency_0)
        x_1_to_1 = self.hbs_1_level2(x_1_level1, adjacency_1)
        x_2_to_2 = self.hbs_2_level2(x_2_level1, coadjacency_2)
        x_0_to_1, _ = self.hbns_0_1_level2(x_1_level1, x_0_level1, incidence_1)
        x_1_to_2, _ = self.hbns_1_2_level2(x_2_level1, x_1_level1, incidence_2)
        x_0_level2 = self.aggr([x_0_to_0])
        x_1_level2 = self.aggr([x_0_to_1, x_1_to_1])
        x_2_level2 = self.aggr([x_1_to_2, x_2_to_2])
        return x_0_level2, x_1_level2, x_2_level2
