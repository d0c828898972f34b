r"""A neighborhood split across parts: this part's rows, and the plan to fetch its halo.

:class:`PartitionedNeighborhood` stands wherever a torch sparse neighborhood
does: ``MessagePassing.forward``, ``Conv.forward``, ``N @ x``,
``torch.sparse.mm(N, x)``, ``N.T``, ``N1 @ N2`` (kept factored, see
:class:`~topodist.distributed.chain.NeighborhoodChain`), ``N1 + N2``, ``N1 * N2``, ``2.0 * N``,
``torch.sparse.sum(N, dim=1)``. Features passed with it are those of the cells
this part owns (``(..., n_owned, channels)``); it fetches the halo rows, then
works on its local rows only. Its ``shape`` is ``(n_owned_targets,
n_owned_sources)``, the shape the model's features see.

Products ``N @ x`` overlap communication with computation: the exchange starts,
the entries whose source is owned are multiplied, then the halo entries once
the halo has arrived; backward does the same in reverse. One tensor exchanged
through one plan in a forward pass is exchanged once, however many
neighborhoods of that source rank read it.
"""

import torch

from topodist.distributed.chain import NeighborhoodChain
from topodist.distributed.halo_exchange import HaloExchanger, exchange_halo
from topodist.distributed.overlap import ColumnSplit, OverlappedProduct
from topodist.ops.neighborhood import neighborhood_index, row_sums

__all__ = ["PartitionedNeighborhood"]


class PartitionedNeighborhood:
    """This part's rows of a neighborhood, the halo plan of its source rank and the process group.

    Parameters
    ----------
    local : torch.Tensor
        Sparse COO, shape = (n_owned_targets, n_owned_sources + n_halo_sources):
        owned source columns first, then the halo in plan order.
    exchanger : HaloExchanger
        The exchanger of the source rank, shared by every neighborhood of that rank.
    name : str, default=""
        The neighborhood's name, e.g. ``"incidence_1"``.
    ranks : (int, int), optional
        ``(target_rank, source_rank)``.
    transpose : callable, optional
        Returns the partitioned transpose (which needs its own rows and plan).
    target_cells : torch.Tensor, shape = (n_owned_targets,), optional
        Global ids of the rows (what per-cell operations such as
        :class:`~topodist.ops.dropout.CellDropout` key on).
    source_cells : torch.Tensor, shape = (n_owned_sources + n_halo_sources,), optional
        Global ids of the local columns (what per-entry operations, such as
        dropout on attention weights, key on); for a neighborhood within one
        rank they default to ``target_cells`` followed by the halo's ids.
    """

    def __init__(
        self,
        local: torch.Tensor,
        exchanger: HaloExchanger,
        name: str = "",
        ranks: tuple[int, int] | None = None,
        transpose=None,
        target_cells: torch.Tensor | None = None,
        source_cells: torch.Tensor | None = None,
    ) -> None:
        self.local = local.coalesce()
        self.target_cells = target_cells
        self._source_cells = source_cells
        self.exchanger = exchanger
        self.name = name
        self.ranks = ranks
        self._transpose = transpose
        self._cache = exchanger.recent_halos
        self._split: ColumnSplit | None = None

    # ------------------------------------------------------------------ shape
    @property
    def shape(self) -> torch.Size:
        """``(n_owned_targets, n_owned_sources)``: the rows of the features it maps between."""
        return torch.Size((self.local.shape[0], self.exchanger.n_owned))

    def size(self, dim: int | None = None):
        """As ``torch.Tensor.size``."""
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        """2."""
        return 2

    @property
    def nnz(self) -> int:
        """Stored entries of this part's rows, halo columns included."""
        return self.local._nnz()

    @property
    def source_cells(self) -> torch.Tensor | None:
        """Global ids of the local columns: owned sources, then the halo; ``None`` when unknown."""
        if self._source_cells is not None:
            return self._source_cells
        if self.ranks is None or self.ranks[0] != self.ranks[1] or self.target_cells is None:
            return None
        halo = torch.as_tensor(self.exchanger.plan.halo_cells, dtype=torch.int64, device=self.target_cells.device)
        return torch.cat([self.target_cells.to(torch.int64), halo])

    @property
    def dtype(self) -> torch.dtype:
        """Value dtype."""
        return self.local.dtype

    @property
    def device(self) -> torch.device:
        """Device of the local matrix."""
        return self.local.device

    @property
    def group(self):
        """The process group of the parts."""
        return self.exchanger.group

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        return f"PartitionedNeighborhood({label}shape={tuple(self.shape)}, halo={self.exchanger.n_halo})"

    # ------------------------------------------------------- message passing
    def halo(self, x_owned: torch.Tensor) -> torch.Tensor:
        """The halo rows of ``x_owned``, exchanged once per tensor and plan.

        Returns
        -------
        torch.Tensor, shape = (..., n_halo, channels)
        """
        halo = self._cache.get(x_owned)
        if halo is None:
            halo = exchange_halo(x_owned, self.exchanger, self.name)
            self._cache.put(x_owned, halo)
        return halo

    def localize(
        self, x_source: torch.Tensor, x_target: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """What a message-passing layer needs to run on this part alone.

        Parameters
        ----------
        x_source : torch.Tensor, shape = (..., n_owned_sources, channels)
        x_target : torch.Tensor, shape = (..., n_owned_targets, channels), optional

        Returns
        -------
        x_source : torch.Tensor, shape = (..., n_owned_sources + n_halo, channels)
            Owned rows, then the halo.
        local : torch.Tensor
            The local sparse matrix.
        x_target : torch.Tensor or None
            ``x_target``; for a neighborhood within one rank, ``x_source``'s owned
            rows when omitted (what a single-device layer reads as targets then).
        """
        extended = torch.cat([x_source, self.halo(x_source)], dim=-2)
        if x_target is None and self.ranks is not None and self.ranks[0] == self.ranks[1]:
            x_target = x_source
        return extended, self.local, x_target

    def matmul(self, x_owned: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """``N @ x`` or ``N @ (x @ weight)`` over the owned target rows, the exchange overlapped with the owned part.

        The halo of ``x_owned`` is what travels, with or without ``weight``:
        every product reading the same tensor through a neighborhood of this
        source rank shares one exchange, whatever weight each applies; the
        halo's rows are multiplied by ``weight`` on arrival.

        Parameters
        ----------
        x_owned : torch.Tensor, shape = (..., n_owned_sources, channels)
        weight : torch.Tensor, shape = (channels, out_channels), optional

        Returns
        -------
        torch.Tensor, shape = (..., n_owned_targets, channels or out_channels)
        """
        if self._split is None:
            self._split = ColumnSplit(self.local, self.exchanger.n_owned, self.exchanger.n_halo)
        cached = self._cache.get(x_owned)
        if cached is not None:
            return self._split.with_halo(x_owned, cached, weight)
        y, halo = OverlappedProduct.apply(x_owned, self.exchanger, self._split, self.name, weight)
        self._cache.put(x_owned, halo)
        return y

    def __matmul__(self, other):
        if isinstance(other, PartitionedNeighborhood | NeighborhoodChain):
            return NeighborhoodChain((self,)) @ other
        return self.matmul(other)

    # ------------------------------------------------------------ algebra
    @property
    def T(self) -> "PartitionedNeighborhood":  # noqa: N802
        """The transpose, with its own rows and plan (partition ``name.T`` too)."""
        if self._transpose is None:
            raise ValueError(
                f"the transpose of {self.name or 'this neighborhood'} was not partitioned: its rows belong "
                f"to other parts. Partition '{_transposed_name(self.name)}' as well."
            )
        return self._transpose()

    def t(self) -> "PartitionedNeighborhood":
        """The transpose (see :attr:`T`)."""
        return self.T

    def transpose(self, dim0: int, dim1: int) -> "PartitionedNeighborhood":
        """The transpose (see :attr:`T`) for ``transpose(0, 1)`` or ``transpose(1, 0)``."""
        if {dim0 % 2, dim1 % 2} != {0, 1}:
            raise ValueError(f"a neighborhood has dimensions 0 and 1; got transpose({dim0}, {dim1}).")
        return self.T

    def _combine(self, other, operation: str) -> "PartitionedNeighborhood":
        if isinstance(other, PartitionedNeighborhood):
            if other.exchanger is not self.exchanger or other.local.shape != self.local.shape:
                raise ValueError(
                    f"{operation} of {self.name!r} and {other.name!r}: they map different ranks or parts; "
                    "both must have the same target and source rank in the same partition."
                )
            local = {"+": self.local + other.local, "-": self.local - other.local, "*": self.local * other.local}
            return PartitionedNeighborhood(
                local[operation].coalesce(), self.exchanger, f"({self.name} {operation} {other.name})", self.ranks,
                target_cells=self.target_cells, source_cells=self._source_cells,
            )
        if operation == "*" and isinstance(other, int | float):
            return PartitionedNeighborhood(
                self.local * other, self.exchanger, f"{other} * {self.name}", self.ranks,
                target_cells=self.target_cells, source_cells=self._source_cells,
            )
        return NotImplemented

    def __add__(self, other):
        return self._combine(other, "+")

    def add(self, other) -> "PartitionedNeighborhood":
        """``self + other``, as ``torch.Tensor.add``."""
        return self + other

    def __sub__(self, other):
        return self._combine(other, "-")

    def __mul__(self, other):
        return self._combine(other, "*")

    __rmul__ = __mul__

    def row_sums(self) -> torch.Tensor:
        """``sum_j N[i, j]`` for every owned target row, shape = (n_owned_targets,).

        Summed once per local matrix (its cached CSR rows); a copy is returned.
        """
        return row_sums(neighborhood_index(self.local)).clone()

    def row_normalized(self) -> "PartitionedNeighborhood":
        r""":math:`D^{-1} N` with :math:`D` the row sums (empty rows stay empty)."""
        sums = self.row_sums()
        inverse = torch.where(sums != 0, 1 / torch.where(sums != 0, sums, torch.ones_like(sums)), 0)
        indices = self.local.indices()
        # the indices of a coalesced tensor (``indices()`` refuses others): valid, sorted, unique
        local = torch.sparse_coo_tensor(
            indices, self.local.values() * inverse[indices[0]], self.local.shape, is_coalesced=True,
            check_invariants=False,
        )
        return PartitionedNeighborhood(
            local, self.exchanger, f"row_normalized({self.name})", self.ranks, target_cells=self.target_cells,
            source_cells=self._source_cells,
        )

    def to(self, device) -> "PartitionedNeighborhood":
        """The same neighborhood on ``device``."""
        self.exchanger.to(device)
        cells = None if self.target_cells is None else self.target_cells.to(device)
        sources = None if self._source_cells is None else self._source_cells.to(device)
        return PartitionedNeighborhood(
            self.local.to(device), self.exchanger, self.name, self.ranks, self._transpose, target_cells=cells,
            source_cells=sources,
        )

    # ----------------------------------------------------- torch functions
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in (torch.sparse.mm, torch.mm, torch.matmul, torch.spmm) and isinstance(args[0], cls):
            return args[0] @ args[1]
        if func in (torch.t, torch.Tensor.t) and isinstance(args[0], cls):
            return args[0].T
        if func in (torch.transpose, torch.Tensor.transpose) and isinstance(args[0], cls):
            return args[0].transpose(*args[1:3])
        if func in (torch.add, torch.Tensor.add) and isinstance(args[0], cls):
            return args[0] + args[1]
        if func in (torch.sparse.sum, torch._sparse_sum) and isinstance(args[0], cls):
            dim = args[1] if len(args) > 1 else kwargs.get("dim")
            if dim in (1, -1, (1,), (-1,)):
                return args[0].row_sums()
        name = getattr(func, "__name__", str(func))
        raise TypeError(
            f"torch.{name} is not supported on a PartitionedNeighborhood. Supported: N @ x, torch.sparse.mm, "
            "torch.mm, torch.matmul, N.T, N.transpose(1, 0), N1 @ N2, N1 + N2, N1 - N2, N1 * N2, c * N, "
            "torch.sparse.sum(N, dim=1), "
            "N.row_normalized(), and passing N to MessagePassing, Conv and their subclasses."
        )


def _transposed_name(name: str) -> str:
    return name.removesuffix(".T") if name.endswith(".T") else f"{name}.T"
