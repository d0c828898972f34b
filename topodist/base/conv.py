"""Convolution through one neighborhood: message passing with a linear message."""

from typing import Literal

import torch
from torch.nn.parameter import Parameter

from topodist.base.message_passing import MessagePassing
from topodist.ops import dense
from topodist.ops.neighborhood import check_features, is_partitioned, localize, propagate, row_sums

__all__ = ["Conv"]

CONV_UPDATES = ("relu", "sigmoid", None)


class Conv(MessagePassing):
    r"""Message passing with a linear message: steps 1, 2 and 3.

    .. math::
        \mathbf{h}'_x = \sigma\left( \frac{1}{d_x}
            \sum_{y \in \mathcal{N}(x)} N_{xy} \, a_{y \rightarrow x} \,
            \mathbf{h}_y \Theta \right),
        \qquad d_x = \sum_{y} N_{xy} \, a_{y \rightarrow x}

    where :math:`\Theta` is ``weight`` (the identity when
    ``with_linear_transform=False``), :math:`a` is the attention weight (1 when
    ``att=False``), :math:`d_x` is 1 unless ``aggr_norm=True`` and :math:`\sigma`
    is ``update_func``.

    Parameters
    ----------
    in_channels : int
        Dimension of input features.
    out_channels : int
        Dimension of output features.
    aggr_norm : bool, default=False
        Whether to divide each target's aggregated message by its row sum
        :math:`d_x`, computed sparsely. Targets whose row sum is zero (no
        neighbors) get zeros, where TopoModelX 0.0.1 returns NaN.
    update_func : {"relu", "sigmoid", None}, default=None
        Update function applied to the aggregated messages.
    att : bool, default=False
        Whether to use attention.
    initialization : {"uniform", "xavier_uniform", "xavier_normal"}, default="xavier_uniform"
        Initialization method.
    initialization_gain : float, default=1.414
        Initialization gain.
    with_linear_transform : bool, default=True
        Whether to apply a learnable linear transform; if ``False``,
        ``in_channels`` must equal ``out_channels``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        aggr_norm: bool = False,
        update_func: Literal["relu", "sigmoid", None] = None,
        att: bool = False,
        initialization: Literal["uniform", "xavier_uniform", "xavier_normal"] = "xavier_uniform",
        initialization_gain: float = 1.414,
        with_linear_transform: bool = True,
    ) -> None:
        super().__init__(
            att=att,
            initialization=initialization,
            initialization_gain=initialization_gain,
        )
        if update_func not in CONV_UPDATES:
            raise ValueError(
                f"update_func={update_func!r} is not supported; choose one of {CONV_UPDATES}."
            )
        if not with_linear_transform and in_channels != out_channels:
            raise ValueError(
                "with_linear_transform=False needs in_channels == out_channels, got "
                f"in_channels={in_channels}, out_channels={out_channels}."
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.aggr_norm = aggr_norm
        self.update_func = update_func

        self.weight = (
            Parameter(torch.empty(self.in_channels, self.out_channels))
            if with_linear_transform
            else None
        )
        if self.att:
            self.att_weight = Parameter(torch.empty(2 * self.in_channels))

        self.reset_parameters()

    def update(self, x_message_on_target: torch.Tensor) -> torch.Tensor:
        """Update embeddings on each cell (step 3).

        Parameters
        ----------
        x_message_on_target : torch.Tensor, shape = (..., n_target_cells, out_channels)
            Aggregated messages on target cells.

        Returns
        -------
        torch.Tensor, shape = (..., n_target_cells, out_channels)
            Updated features on target cells.
        """
        if self.update_func == "sigmoid":
            return torch.sigmoid(x_message_on_target)
        if self.update_func == "relu":
            return torch.nn.functional.relu(x_message_on_target)
        return x_message_on_target

    def forward(
        self,
        x_source: torch.Tensor,
        neighborhood: torch.Tensor,
        x_target: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Convolve source features through ``neighborhood`` onto the target cells.

        Parameters
        ----------
        x_source : torch.Tensor, shape = (..., n_source_cells, in_channels)
            Input features on source cells.
        neighborhood : torch.sparse, shape = (n_target_cells, n_source_cells)
            Neighborhood matrix, COO or CSR; or a
            :class:`~topodist.distributed.PartitionedNeighborhood`, with features
            of the cells this part owns.
        x_target : torch.Tensor, shape = (..., n_target_cells, in_channels), optional
            Input features on target cells, read by attention only;
            ``x_source`` is used when omitted.

        Returns
        -------
        torch.Tensor, shape = (..., n_target_cells, out_channels)
            Output features on target cells.
        """
        if not self.att and is_partitioned(neighborhood):
            return self.update(self._partitioned_linear(x_source, neighborhood, x_target))
        x_source, neighborhood, x_target = localize(x_source, neighborhood, x_target)
        index = self._read_neighborhood(x_source, neighborhood, x_target)
        neighborhood_values = self._message_weights(index, x_source, x_target)
        if (
            self.weight is not None
            and not self.att
            and index.rows is not None
            and _weight_after(
                index.n_target_cells, index.n_source_cells, index.rows.nnz, self.in_channels, self.out_channels
            )
        ):
            x_message_on_target = dense.matmul(propagate(index, x_source), self.weight)
        else:
            x_message = x_source if self.weight is None else dense.matmul(x_source, self.weight)
            x_message_on_target = propagate(index, x_message, neighborhood_values)

        if self.aggr_norm:
            x_message_on_target = _divided_by_row_sums(x_message_on_target, row_sums(index, neighborhood_values))

        return self.update(x_message_on_target)

    def _partitioned_linear(
        self, x_source: torch.Tensor, neighborhood, x_target: torch.Tensor | None
    ) -> torch.Tensor:
        """Steps 1 and 2 without attention on a part, through the neighborhood's own product.

        ``neighborhood.matmul(x, weight)`` starts the halo exchange of ``x``,
        multiplies the owned columns (and the weight) while it travels, then
        adds the halo columns (see
        :meth:`~topodist.distributed.PartitionedNeighborhood.matmul`), where
        :func:`~topodist.ops.neighborhood.localize` would wait for the halo
        and copy it beside the owned rows. The layer then records no entries
        (``target_index_i`` and ``source_index_j`` are ``None``): without
        attention nothing reads them.
        """
        n_target_cells, n_source_cells = neighborhood.shape
        check_features(x_source, "x_source", n_source_cells, "columns (source cells)")
        if x_target is not None:
            check_features(x_target, "x_target", n_target_cells, "rows (target cells)")
        self.__dict__.pop("_target_index_i", None)
        self._neighborhood_entries, self.source_index_j = None, None
        if self.weight is not None and _weight_after(
            n_target_cells, n_source_cells, neighborhood.nnz, self.in_channels, self.out_channels
        ):
            x_message_on_target = dense.matmul(neighborhood @ x_source, self.weight)
        else:  # the halo of x_source travels, not that of x_source @ weight: one exchange for all its readers
            x_message_on_target = neighborhood.matmul(x_source, self.weight)
        if self.aggr_norm:
            x_message_on_target = _divided_by_row_sums(x_message_on_target, neighborhood.row_sums())
        return x_message_on_target


def _divided_by_row_sums(x: torch.Tensor, sums: torch.Tensor) -> torch.Tensor:
    """``x``'s rows divided by ``sums``; zero where a row sums to zero."""
    nonzero = sums != 0
    safe = torch.where(nonzero, sums, torch.ones_like(sums))
    return torch.where(nonzero, 1 / safe, torch.zeros_like(safe)).unsqueeze(-1) * x


def _weight_after(n_target_cells: int, n_source_cells: int, nnz: int, in_channels: int, out_channels: int) -> bool:
    r"""Whether :math:`(N x) \Theta` costs fewer multiply-adds than :math:`N (x \Theta)`.

    Equal in exact arithmetic; the weight goes on the side with fewer rows times
    channels: ``n_source * in * out + nnz * out`` before the product against
    ``nnz * in + n_target * in * out`` after it. Only for constant
    neighborhood values (the CSR product, or a partitioned neighborhood's).
    """
    before = n_source_cells * in_channels * out_channels + nnz * out_channels
    after = nnz * in_channels + n_target_cells * in_channels * out_channels
    return after < before
