"""Message passing through one neighborhood: the base class of every topodist layer."""

import math
import weakref
from typing import Literal

import torch

from topodist.ops.activations import elu
from topodist.ops.neighborhood import (
    NeighborhoodIndex,
    check_features,
    localize,
    neighborhood_index,
    pair_scores,
    propagate_mean,
)
from topodist.ops.scatter import scatter

__all__ = ["MessagePassing"]

AGGREGATIONS = ("sum", "mean", "add")
INITIALIZATIONS = ("uniform", "xavier_uniform", "xavier_normal")


class MessagePassing(torch.nn.Module):
    r"""Define message passing through a single neighborhood.

    Message passing through a neighborhood :math:`\mathcal{N}` has two steps:

    1. 🟥 Create messages going from source cells to target cells through N.
    2. 🟧 Aggregate messages coming from different sources cells onto each target cell.

    This class has no trainable weights; subclasses define ``weight`` (and
    ``att_weight`` when ``att=True``) and call :meth:`reset_parameters`.
    Constructor arguments, method names and attributes follow TopoModelX 0.0.1,
    so TopoModelX subclasses port by changing their import.

    Parameters
    ----------
    aggr_func : {"sum", "mean", "add"}, default="sum"
        Aggregation function; ``"add"`` is ``"sum"``.
    att : bool, default=False
        Whether to weight messages by attention.
    initialization : {"uniform", "xavier_uniform", "xavier_normal"}, default="xavier_uniform"
        Initialization method for the weights of the layer.
    initialization_gain : float, default=1.414
        Gain for the weight initialization.

    References
    ----------
    .. [1] Hajij, Zamzmi, Papamarkou, Miolane, Guzmán-Sáenz, Ramamurthy, Birdal, Dey,
        Mukherjee, Samaga, Livesay, Walters, Rosen, Schaub.
        Topological deep learning: going beyond graph data (2023).
        https://arxiv.org/abs/2206.00606.
    .. [2] Papillon, Sanborn, Hajij, Miolane.
        Architectures of topological deep learning: a survey on topological neural
        networks (2023). https://arxiv.org/abs/2304.10031.
    """

    def __init__(
        self,
        aggr_func: Literal["sum", "mean", "add"] = "sum",
        att: bool = False,
        initialization: Literal[
            "uniform", "xavier_uniform", "xavier_normal"
        ] = "xavier_uniform",
        initialization_gain: float = 1.414,
    ) -> None:
        super().__init__()
        if aggr_func not in AGGREGATIONS:
            raise ValueError(
                f"aggr_func={aggr_func!r} is not supported; choose one of {AGGREGATIONS}."
            )
        if initialization not in INITIALIZATIONS:
            raise ValueError(
                f"initialization={initialization!r} is not supported; "
                f"choose one of {INITIALIZATIONS}."
            )
        self.aggr_func = aggr_func
        self.att = att
        self.initialization = initialization
        self.initialization_gain = initialization_gain

    def reset_parameters(self) -> None:
        r"""Reset ``weight`` and, with attention, ``att_weight``.

        ``"uniform"`` draws from :math:`U(-1/\sqrt{d}, 1/\sqrt{d})` with ``d`` the size of
        the parameter's second dimension (its only dimension for a 1-D ``att_weight``,
        where TopoModelX 0.0.1 raises an IndexError); the xavier methods use
        ``initialization_gain`` and treat a 1-D ``att_weight`` as a column.
        """
        weight = getattr(self, "weight", None)
        att_weight = getattr(self, "att_weight", None) if self.att else None
        if self.initialization == "uniform":
            for param in (weight, att_weight):
                if param is not None:
                    stdv = 1.0 / math.sqrt(param.size(1) if param.dim() > 1 else param.size(0))
                    param.data.uniform_(-stdv, stdv)
            return
        init = (
            torch.nn.init.xavier_uniform_
            if self.initialization == "xavier_uniform"
            else torch.nn.init.xavier_normal_
        )
        if weight is not None:
            init(weight, gain=self.initialization_gain)
        if att_weight is not None:
            init(att_weight.view(-1, 1), gain=self.initialization_gain)

    @property
    def target_index_i(self) -> torch.Tensor | None:
        """Row (target cell) of every stored entry of the last forward's neighborhood, as in TopoModelX.

        Read from the neighborhood's entries when first asked for (a product
        through the CSR form never needs it; for the transpose of a cached
        neighborhood it is computed then), for as long as they are kept: the
        layer holds them weakly, so a dropped neighborhood's memory is not held
        by the layer; ``None`` after. Assigning it sets it.
        """
        if "_target_index_i" in self.__dict__:
            return self.__dict__["_target_index_i"]
        entries = self.__dict__.get("_neighborhood_entries")
        index = None if entries is None else entries()
        return None if index is None else index.target_index

    @target_index_i.setter
    def target_index_i(self, value: torch.Tensor | None) -> None:
        self.__dict__["_target_index_i"] = value

    def __getstate__(self) -> dict:
        """The module's state, less the weak reference to the last forward's entries (which cannot be pickled)."""
        state = super().__getstate__()
        return {name: value for name, value in state.items() if name != "_neighborhood_entries"}

    def message(
        self, x_source: torch.Tensor, x_target: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Construct messages on the source cells (🟥); the default is the identity.

        Parameters
        ----------
        x_source : torch.Tensor, shape = (..., n_source_cells, in_channels)
            Input features on source cells.
        x_target : torch.Tensor, shape = (..., n_target_cells, in_channels), optional
            Input features on target cells; ``x_source`` is used when omitted.

        Returns
        -------
        torch.Tensor, shape = (..., n_source_cells, in_channels)
            Message sent by each source cell.
        """
        return x_source

    def attention(
        self, x_source: torch.Tensor, x_target: torch.Tensor | None = None
    ) -> torch.Tensor:
        r"""Compute one attention weight per message.

        .. math::
            a_{y \rightarrow x} = \mathrm{ELU}\left(
                [\mathbf{h}_y \,\|\, \mathbf{h}_x] \cdot \mathbf{a} \right)

        with :math:`\mathbf{a}` = ``att_weight`` of shape ``(2 * in_channels,)``.

        Parameters
        ----------
        x_source : torch.Tensor, shape = (..., n_source_cells, in_channels)
            Input features on source cells.
        x_target : torch.Tensor, shape = (..., n_target_cells, in_channels), optional
            Input features on target cells; ``x_source`` is used when omitted.

        Returns
        -------
        torch.Tensor, shape = (..., n_messages)
            Attention weight of each message (stored neighborhood entry).
        """
        x_target = x_source if x_target is None else x_target
        scores = pair_scores(x_source, x_target, self.att_weight, self.source_index_j, self.target_index_i)
        return elu(scores)

    def aggregate(self, x_message: torch.Tensor) -> torch.Tensor:
        r"""Aggregate the messages of each target cell (🟧).

        .. math::
            m_x = \mathrm{AGG}_{y \in \mathcal{N}(x)} m_{y \rightarrow x}

        Target cells without messages get zeros, so the output always has
        ``n_target_cells`` rows (TopoModelX 0.0.1 drops trailing empty rows).

        Parameters
        ----------
        x_message : torch.Tensor, shape = (..., n_messages, out_channels)
            Feature of each message, ordered as the neighborhood's stored entries.

        Returns
        -------
        torch.Tensor, shape = (..., n_target_cells, out_channels)
            Aggregated messages on target cells.
        """
        return scatter(
            x_message,
            self.target_index_i,
            dim=-2,
            dim_size=getattr(self, "n_target_cells", None),
            reduce=self.aggr_func,
        )

    def _read_neighborhood(
        self,
        x_source: torch.Tensor,
        neighborhood: torch.Tensor,
        x_target: torch.Tensor | None,
    ) -> NeighborhoodIndex:
        """Validate the inputs of a forward pass and record the neighborhood's entries.

        Sets ``target_index_i``, ``source_index_j`` and ``n_target_cells``, which
        :meth:`attention` and :meth:`aggregate` read, as in TopoModelX.
        """
        index = neighborhood_index(neighborhood)
        check_features(x_source, "x_source", index.n_source_cells, "columns (source cells)")
        if x_target is not None:
            check_features(x_target, "x_target", index.n_target_cells, "rows (target cells)")
        elif self.att and index.n_target_cells != index.n_source_cells:
            raise ValueError(
                f"att=True without x_target needs a square neighborhood, got shape "
                f"({index.n_target_cells}, {index.n_source_cells}); pass x_target."
            )
        self.__dict__.pop("_target_index_i", None)
        self._neighborhood_entries, self.source_index_j = weakref.ref(index), index.source_index
        self.n_target_cells = index.n_target_cells
        return index

    def _message_weights(
        self,
        index: NeighborhoodIndex,
        x_source: torch.Tensor,
        x_target: torch.Tensor | None,
    ) -> torch.Tensor:
        """Return the neighborhood values, times the attention weights when ``att``.

        The result has shape ``(n_messages,)``, or ``(..., n_messages)`` with attention
        on batched features. Attention shaped ``(..., n_messages, 1)`` is accepted too.
        """
        if not self.att:
            return index.values
        attention_values = self.attention(x_source=x_source, x_target=x_target)
        if attention_values.dim() == x_source.dim():
            attention_values = attention_values.squeeze(-1)
        return index.values * attention_values

    def forward(
        self,
        x_source: torch.Tensor,
        neighborhood: torch.Tensor,
        x_target: torch.Tensor | None = None,
    ) -> torch.Tensor:
        r"""Pass messages from source cells to target cells through ``neighborhood``.

        .. math::
            \mathbf{h}'_x = \mathrm{AGG}_{y \in \mathcal{N}(x)}
                N_{xy} \, a_{y \rightarrow x} \, M(\mathbf{h}_y)

        where :math:`M` is :meth:`message`, :math:`a` is :meth:`attention` (1 when
        ``att=False``) and AGG is ``aggr_func``.

        Parameters
        ----------
        x_source : torch.Tensor, shape = (..., n_source_cells, in_channels)
            Input features on source cells.
        neighborhood : torch.sparse, shape = (n_target_cells, n_source_cells)
            Neighborhood matrix, COO or CSR; or a
            :class:`~topodist.distributed.PartitionedNeighborhood`, with features
            of the cells this part owns.
        x_target : torch.Tensor, shape = (..., n_target_cells, in_channels), optional
            Input features on target cells; ``x_source`` is used when omitted.

        Returns
        -------
        torch.Tensor, shape = (..., n_target_cells, out_channels)
            Output features on target cells.
        """
        x_source, neighborhood, x_target = localize(x_source, neighborhood, x_target)
        index = self._read_neighborhood(x_source, neighborhood, x_target)
        x_message = self.message(x_source=x_source, x_target=x_target)
        if not self.att and index.rows is not None and type(self).aggregate is MessagePassing.aggregate:
            return propagate_mean(index, x_message, reduce=self.aggr_func)
        x_message = x_message.index_select(-2, self.source_index_j)
        neighborhood_values = self._message_weights(index, x_source, x_target)
        x_message = neighborhood_values.unsqueeze(-1) * x_message
        return self.aggregate(x_message)
