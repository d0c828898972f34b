"""Reading neighborhood matrices: validation, COO indices and row sums.

A neighborhood is a sparse matrix ``N`` of shape ``(n_target_cells, n_source_cells)``;
entry ``N[i, j]`` is the weight of the message from source cell ``j`` to target cell ``i``.
"""

import itertools
import sys
import weakref
from typing import NamedTuple

import torch

from topodist.ops.scatter import scatter
from topodist.ops.spmm import SparseRows, sparse_rows_matmul, weighted_rows_matmul

__all__ = [
    "NeighborhoodIndex",
    "check_features",
    "derived_neighborhood",
    "is_partitioned",
    "localize",
    "neighborhood_index",
    "neighborhood_matmul",
    "pair_scores",
    "propagate_heads",
    "propagate_mean",
    "neighborhood_product",
    "neighborhood_sum",
    "neighborhood_transpose",
    "propagate",
    "row_sums",
    "torch_order_matmul",
]

_SPARSE_LAYOUTS = (torch.sparse_coo, torch.sparse_csr)
# Uncoalesced COO tensors (``N.T`` made in a forward) whose entries outlive them, for the next equal one.
RECENT_UNCOALESCED = 8


def _is_sparse_tensor(neighborhood) -> bool:
    return isinstance(neighborhood, torch.Tensor) and neighborhood.layout in _SPARSE_LAYOUTS


class NeighborhoodIndex:
    """The stored entries of a neighborhood, one per message.

    Parameters
    ----------
    target_index : torch.Tensor or None, shape = (n_messages,)
        Row (target cell) of every stored entry, sorted; ``None`` to compute it
        from ``rows`` on first use (a product through ``rows`` never needs it).
    source_index : torch.Tensor, shape = (n_messages,)
        Column (source cell) of every stored entry.
    values : torch.Tensor, shape = (n_messages,)
        Weight of every stored entry.
    n_target_cells : int
        Number of rows.
    n_source_cells : int
        Number of columns.
    rows : SparseRows or None
        The same entries in CSR form (with a cached transpose), for linear
        aggregation; ``None`` when the values require grad.
    """

    __slots__ = ("_target_index", "source_index", "values", "n_target_cells", "n_source_cells", "rows", "__weakref__")

    def __init__(
        self,
        target_index: torch.Tensor | None,
        source_index: torch.Tensor,
        values: torch.Tensor,
        n_target_cells: int,
        n_source_cells: int,
        rows: SparseRows | None = None,
    ) -> None:
        if target_index is None and rows is None:
            raise ValueError("target_index can be left out only when rows is given.")
        self._target_index = target_index
        self.source_index, self.values, self.rows = source_index, values, rows
        self.n_target_cells, self.n_source_cells = n_target_cells, n_source_cells

    @property
    def target_index(self) -> torch.Tensor:
        """Row (target cell) of every stored entry, shape = (n_messages,), sorted."""
        if self._target_index is None:
            self._target_index = self.rows.entry_rows()
        return self._target_index

    _fields = ("target_index", "source_index", "values", "n_target_cells", "n_source_cells", "rows")

    def __iter__(self):
        """The six attributes in order, so an index unpacks as the tuple it once was."""
        return (getattr(self, name) for name in self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __getitem__(self, item):
        return tuple(self)[item]


def is_partitioned(neighborhood) -> bool:
    """Whether ``neighborhood`` is a part of a partitioned one (it has ``localize``), not a torch tensor.

    Such a neighborhood multiplies features of the cells its part owns with
    ``@``, fetching the halo itself.
    """
    return not isinstance(neighborhood, torch.Tensor) and hasattr(neighborhood, "localize")


def localize(
    x_source: torch.Tensor, neighborhood, x_target: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Prepare a layer's inputs for a neighborhood that may be partitioned.

    A torch sparse neighborhood is returned as is. A partitioned one (any
    object with a ``localize`` method, such as
    :class:`topodist.distributed.PartitionedNeighborhood`) fetches the halo rows
    of ``x_source`` and returns its local matrix, so the layer then runs on
    this part exactly as on one device.

    Parameters
    ----------
    x_source : torch.Tensor, shape = (..., n_source_cells, channels)
    neighborhood : torch.sparse or partitioned neighborhood
    x_target : torch.Tensor, shape = (..., n_target_cells, channels), optional

    Returns
    -------
    x_source, neighborhood, x_target
    """
    if not is_partitioned(neighborhood):
        return x_source, neighborhood, x_target
    return neighborhood.localize(x_source, x_target)


def neighborhood_index(neighborhood: torch.Tensor) -> NeighborhoodIndex:
    """Return the stored entries of a sparse neighborhood matrix in row-major order.

    Parameters
    ----------
    neighborhood : torch.sparse, shape = (n_target_cells, n_source_cells)
        Neighborhood matrix, in COO or CSR layout. Duplicate COO entries are summed.

    Returns
    -------
    NeighborhoodIndex
        Target and source index and value of every stored entry, and the shape.
    """
    if not isinstance(neighborhood, torch.Tensor):
        if hasattr(neighborhood, "factors"):
            raise TypeError(
                f"{neighborhood!r} is a product kept factored (a factored Laplacian): it can be applied "
                "(N @ x) but has no entries for this layer to read. Partition the product itself "
                "(data.init_args.laplacians: assembled)."
            )
        raise TypeError(
            "neighborhood must be a 2-D torch sparse tensor (COO or CSR), "
            f"got {type(neighborhood).__name__}."
        )
    if neighborhood.layout not in _SPARSE_LAYOUTS or neighborhood.dim() != 2:
        raise ValueError(
            "neighborhood must be a 2-D torch sparse tensor (COO or CSR), got a "
            f"{neighborhood.dim()}-D tensor with layout {neighborhood.layout}; "
            "convert a dense matrix with .to_sparse()."
        )
    return _INDEX_CACHE.get(neighborhood)


def _build_index(neighborhood: torch.Tensor) -> NeighborhoodIndex:
    if neighborhood.is_sparse_csr:
        neighborhood = neighborhood.to_sparse_coo()
    neighborhood = neighborhood.coalesce()
    target_index, source_index = neighborhood.indices()
    # values() is a view whose base is the sparse tensor: kept in the cache it would keep the tensor alive
    values = neighborhood.values() if neighborhood.requires_grad else neighborhood._values()
    n_target_cells, n_source_cells = neighborhood.shape
    rows = None if values.requires_grad else SparseRows.from_coo(target_index, source_index, values, neighborhood.shape)
    return NeighborhoodIndex(target_index, source_index, values, n_target_cells, n_source_cells, rows)


def _transposed_index(index: NeighborhoodIndex) -> NeighborhoodIndex:
    transpose = index.rows.T
    return NeighborhoodIndex(None, transpose.col, transpose.values, *transpose.shape, transpose)


def _raw_parts(neighborhood: torch.Tensor) -> tuple[torch.Tensor, ...]:
    if neighborhood.is_sparse_csr:
        return neighborhood.crow_indices(), neighborhood.col_indices(), neighborhood.values()
    return neighborhood._indices(), neighborhood._values()


class _Remembered(NamedTuple):
    """The entries built for an uncoalesced COO tensor that is gone, kept for the next equal one."""

    indices: torch.Tensor
    values_storage: weakref.ref  # the memory its values sat on; the record goes when that memory does
    values_pointer: int
    values_shape: torch.Size
    values_dtype: torch.dtype
    values_version: int
    index: NeighborhoodIndex
    token: int

    def holds_values(self, values: torch.Tensor) -> bool:
        """Whether ``values`` are the values these entries were built from, unchanged since."""
        return (
            self.values_storage() is values.untyped_storage()  # alive, so its memory was not reused
            and self.values_pointer == values.data_ptr()
            and self.values_version == values._version
            and self.values_shape == values.shape
            and self.values_dtype == values.dtype
        )


class _IndexCache:
    """The entries of every neighborhood seen, computed once per tensor.

    A tensor is found again by identity while its values are unchanged (their
    version counter). ``N.T`` or ``N.transpose(1, 0)`` of a COO tensor is a new
    tensor each call: it is recognized as the transpose of a cached ``N``
    (swapped indices, equal values) and served by ``N``'s cached transpose, so
    neither is coalesced again. Entries go when their tensor does, except those
    built for the last :data:`RECENT_UNCOALESCED` uncoalesced COO tensors (a
    fresh ``N.T`` of an ``N`` never used itself, made again every forward): the
    next tensor with the same indices over the same values memory, unchanged
    since, gets them back, and ``N`` itself gets their transpose (a forward
    that uses ``N.T`` before ``N`` builds one pair, not two). Those are kept
    only while that values memory is alive (``N``'s), so nothing stays once
    ``N`` is dropped.
    """

    def __init__(self) -> None:
        # id(tensor) -> [weakref to it, values version, its entries, entries of its transpose or None,
        #                (indices, values) of an uncoalesced COO tensor whose entries were built for it, else None]
        self.by_tensor: dict[int, list] = {}
        # the last uncoalesced COO tensors gone whose values memory is still alive
        self.recent: list[_Remembered] = []
        self._tokens = itertools.count()
        # the last callbacks can run while the interpreter shuts down, with this module's globals already None
        self._finalizing = sys.is_finalizing

    def get(self, neighborhood: torch.Tensor) -> NeighborhoodIndex:
        key = id(neighborhood)
        version = _raw_parts(neighborhood)[-1]._version
        entry = self.by_tensor.get(key)
        if entry is not None and entry[0]() is neighborhood and entry[1] == version:
            return entry[2]
        if neighborhood.requires_grad:  # learnable values: entries depend on this forward's graph
            return _build_index(neighborhood)
        index, transposed = self._transpose_of_cached(neighborhood), None
        if index is None:
            index, transposed = self._transpose_of_recent(neighborhood)
        parts = None  # kept for a later equal tensor: an uncoalesced COO tensor's, if not the transpose of one cached
        if index is None and not neighborhood.is_sparse_csr and not neighborhood.is_coalesced():
            parts = _raw_parts(neighborhood)
            index = self._recent_with_same_entries(*parts, tuple(neighborhood.shape))
        if index is None:
            index = _build_index(neighborhood)
        self.by_tensor[key] = [weakref.ref(neighborhood, lambda _, key=key: self._forget(key)), version, index,
                               transposed, parts]
        return index

    def _forget(self, key: int) -> None:
        entry = self.by_tensor.get(key)
        if entry is not None and entry[0]() is None:
            del self.by_tensor[key]
            if entry[4] is not None and not self._finalizing():
                self._remember(*entry[4], entry[1], entry[2])

    def _remember(self, indices: torch.Tensor, values: torch.Tensor, version: int, index: NeighborhoodIndex) -> None:
        token = next(self._tokens)
        # the callback holds the cache and a number, not the record: no reference cycle keeps the record
        storage = weakref.ref(values.untyped_storage(), lambda _, token=token: self._drop_recent(token))
        record = _Remembered(indices, storage, values.data_ptr(), values.shape, values.dtype, version, index, token)
        self.recent = [*self.recent, record][-RECENT_UNCOALESCED:]

    def _drop_recent(self, token: int) -> None:
        self.recent = [record for record in self.recent if record.token != token]

    def _take_recent(self, values: torch.Tensor, matches) -> _Remembered | None:
        """The first kept record built from ``values`` (unchanged) for which ``matches(record)``, removed."""
        for position, record in enumerate(self.recent):
            if record.holds_values(values) and matches(record):
                del self.recent[position]
                return record
        return None

    def _recent_with_same_entries(
        self, indices: torch.Tensor, values: torch.Tensor, shape: tuple[int, int]
    ) -> NeighborhoodIndex | None:
        record = self._take_recent(
            values,
            lambda record: (record.index.n_target_cells, record.index.n_source_cells) == shape
            and torch.equal(record.indices, indices),
        )
        return None if record is None else record.index

    def _transpose_of_recent(
        self, neighborhood: torch.Tensor
    ) -> tuple[NeighborhoodIndex, NeighborhoodIndex] | tuple[None, None]:
        """Entries for ``N`` from those kept for a gone ``N.T`` (a forward that uses ``N.T``, then ``N``).

        Returns ``N``'s entries and the kept ones (its transpose's, from then on
        kept with ``N``), or ``(None, None)``.
        """
        if neighborhood.is_sparse_csr or not self.recent:
            return None, None
        indices, values = _raw_parts(neighborhood)
        record = self._take_recent(
            values,
            lambda record: (record.index.n_source_cells, record.index.n_target_cells) == tuple(neighborhood.shape)
            and record.index.rows is not None
            and torch.equal(record.indices[0], indices[1])
            and torch.equal(record.indices[1], indices[0]),
        )
        return (None, None) if record is None else (_transposed_index(record.index), record.index)

    def _transpose_of_cached(self, neighborhood: torch.Tensor) -> NeighborhoodIndex | None:
        if neighborhood.is_sparse_csr:
            return None
        indices, values = _raw_parts(neighborhood)
        for entry in list(self.by_tensor.values()):
            owner, cached_version, index = entry[0](), entry[1], entry[2]
            if (
                owner is None
                or owner.is_sparse_csr
                or index.rows is None
                or owner.shape != neighborhood.shape[::-1]
                or owner._nnz() != neighborhood._nnz()
            ):
                continue
            owner_indices, owner_values = _raw_parts(owner)
            if (
                owner_values._version == cached_version  # the owner's entries are not stale
                and owner.device == neighborhood.device
                and owner_values.dtype == values.dtype
                and torch.equal(owner_indices[0], indices[1])
                and torch.equal(owner_indices[1], indices[0])
                and (owner_values.data_ptr() == values.data_ptr() or torch.equal(owner_values, values))
            ):
                if entry[3] is None:
                    entry[3] = _transposed_index(index)
                return entry[3]
        return None


_INDEX_CACHE = _IndexCache()

# (operation, id of each operand) -> [weakrefs to the operands, their values' versions, the result]
_DERIVED: dict[tuple, list] = {}


def derived_neighborhood(operation: str, operands: tuple, build):
    """``build()``, the same tensor for as long as the operands are the same, unchanged tensors.

    Layers that transpose, add or multiply neighborhoods in every forward (as
    TopoModelX writes them) would otherwise hand the product a new matrix each
    time, whose entries, CSR form and transpose are built again. Partitioned
    neighborhoods, and tensors whose values require grad, are not cached:
    ``build()`` runs every call.

    Parameters
    ----------
    operation : str
        Names what ``build`` computes from the operands (the cache's key, with their identities).
    operands : tuple of torch.sparse or PartitionedNeighborhood
    build : callable
        ``build() -> neighborhood``, from the operands.

    Returns
    -------
    What ``build()`` returns.
    """
    if not all(_is_sparse_tensor(n) and not n.requires_grad for n in operands):
        return build()
    key = (operation, *(id(n) for n in operands))
    versions = [_raw_parts(n)[-1]._version for n in operands]
    entry = _DERIVED.get(key)
    if entry is not None and all(ref() is n for ref, n in zip(entry[0], operands)) and entry[1] == versions:
        return entry[2]

    def forget(_, key=key, derived=_DERIVED) -> None:  # bound here: at shutdown the global can be None already
        cached = derived.get(key)
        if cached is not None and any(ref() is None for ref in cached[0]):
            del derived[key]

    result = build()
    _DERIVED[key] = [[weakref.ref(n, forget) for n in operands], versions, result]
    return result


def neighborhood_sum(first, second):
    """``first.add(second)``, formed once while both are the same tensors (:func:`derived_neighborhood`).

    Parameters
    ----------
    first, second : torch.sparse or PartitionedNeighborhood, shape = (n_target_cells, n_source_cells)

    Returns
    -------
    torch.sparse or PartitionedNeighborhood, shape = (n_target_cells, n_source_cells)
    """
    return derived_neighborhood("sum", (first, second), lambda: first.add(second))


def neighborhood_product(first, second):
    """``torch.sparse.mm(first, second)``, formed once while both are the same tensors (:func:`derived_neighborhood`).

    Parameters
    ----------
    first : torch.sparse or PartitionedNeighborhood, shape = (n_target_cells, n_middle_cells)
    second : torch.sparse or PartitionedNeighborhood, shape = (n_middle_cells, n_source_cells)

    Returns
    -------
    torch.sparse or NeighborhoodChain, shape = (n_target_cells, n_source_cells)
    """
    return derived_neighborhood("product", (first, second), lambda: torch.sparse.mm(first, second))


def neighborhood_transpose(neighborhood):
    """``neighborhood.T``, formed once while it is the same tensor (:func:`derived_neighborhood`).

    Parameters
    ----------
    neighborhood : torch.sparse or PartitionedNeighborhood, shape = (n_target_cells, n_source_cells)

    Returns
    -------
    torch.sparse or PartitionedNeighborhood, shape = (n_source_cells, n_target_cells)
    """
    return derived_neighborhood("transpose", (neighborhood,), lambda: neighborhood.T)


def check_features(
    x: torch.Tensor, name: str, n_cells: int, role: str, min_dim: int = 2
) -> None:
    """Raise a clear error unless ``x`` holds floating features of ``n_cells`` cells.

    Parameters
    ----------
    x : torch.Tensor, shape = (..., n_cells, channels)
        Features to check.
    name : str
        Argument name used in the error message, e.g. ``"x_source"``.
    n_cells : int
        Expected size of dimension -2 (the cell dimension).
    role : str
        Which side of the neighborhood ``n_cells`` comes from, e.g. ``"columns"``.
    min_dim : int, default=2
        Smallest accepted number of dimensions.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}.")
    if not (x.is_floating_point() or x.is_complex()):
        raise TypeError(
            f"{name} must hold floating-point features, got dtype {x.dtype}; "
            f"convert it with {name}.float()."
        )
    if x.dim() < min_dim:
        raise ValueError(
            f"{name} must have shape (..., n_cells, channels), got shape {tuple(x.shape)}."
        )
    if x.shape[-2] != n_cells:
        raise ValueError(
            f"{name} has {x.shape[-2]} cells (shape {tuple(x.shape)}) but the "
            f"neighborhood has {n_cells} {role}."
        )


def row_sums(index: NeighborhoodIndex, values: torch.Tensor | None = None) -> torch.Tensor:
    """Sum every row of a neighborhood without densifying it.

    Parameters
    ----------
    index : NeighborhoodIndex
        The neighborhood's entries.
    values : torch.Tensor, shape = (..., n_messages), optional
        Entry values to sum instead of ``index.values`` (e.g. attention-weighted).

    Returns
    -------
    torch.Tensor, shape = (..., n_target_cells)
        ``sum_j N[i, j]`` for every target cell ``i``; zero for empty rows.
    """
    if (values is None or values is index.values) and index.rows is not None:
        return index.rows.row_sums()
    values = index.values if values is None else values
    return scatter(values, index.target_index, dim=-1, dim_size=index.n_target_cells)


def pair_scores(
    x_source: torch.Tensor, x_target: torch.Tensor, weight: torch.Tensor, source_index: torch.Tensor,
    target_index: torch.Tensor,
) -> torch.Tensor:
    r"""``[x_j || x_i] . a`` for every stored entry ``(i, j)``, from one product per cell.

    .. math::
        [\mathbf{x}_j \,\|\, \mathbf{x}_i] \cdot \mathbf{a}
        = \mathbf{x}_j \cdot \mathbf{a}_{:C} + \mathbf{x}_i \cdot \mathbf{a}_{C:}

    Each cell's term is computed once and gathered per entry, instead of one
    concatenated pair gathered per entry.

    Parameters
    ----------
    x_source : torch.Tensor, shape = (..., n_source_cells, C)
    x_target : torch.Tensor, shape = (..., n_target_cells, channels)
    weight : torch.Tensor, shape = (C + channels,) or (C + channels, k)
        The attention vector (or ``k`` of them), source part first.
    source_index, target_index : torch.Tensor, shape = (n_messages,)
        Column and row of every stored entry.

    Returns
    -------
    torch.Tensor, shape = (..., n_messages) or (..., n_messages, k)
    """
    cells = x_source.dim() - 2  # the cell dimension, of the features and of the per-cell terms
    width = x_source.shape[-1]
    source_terms = torch.matmul(x_source, weight[:width]).index_select(cells, source_index)
    return source_terms + torch.matmul(x_target, weight[width:]).index_select(cells, target_index)


def propagate(
    index: NeighborhoodIndex, x_source: torch.Tensor, values: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Multiply a neighborhood with features: :math:`N \mathbf{x}`.

    With the neighborhood's own values, a CSR product (:mod:`topodist.ops.spmm`);
    with other values (attention-weighted), a CSR product differentiable in
    the values too where the CPU kernel serves (2-D float32 or float64
    features, one value per entry), gather and scatter elsewhere.

    Parameters
    ----------
    index : NeighborhoodIndex
        The neighborhood's entries.
    x_source : torch.Tensor, shape = (..., n_source_cells, channels)
        Features on source cells.
    values : torch.Tensor, shape = (..., n_messages), optional
        Entry values to use instead of ``index.values`` (e.g. attention-weighted).

    Returns
    -------
    torch.Tensor, shape = (..., n_target_cells, channels)
        ``sum_j N[i, j] x_source[j]`` for every target cell ``i``.
    """
    if (values is None or values is index.values) and index.rows is not None:
        return sparse_rows_matmul(index.rows, x_source)
    values = index.values if values is None else values
    if index.rows is not None:
        product = weighted_rows_matmul(index.rows, values, x_source)
        if product is not None:
            return product
    x_message = values.unsqueeze(-1) * x_source.index_select(-2, index.source_index)
    return scatter(x_message, index.target_index, dim=-2, dim_size=index.n_target_cells)


def propagate_mean(
    index: NeighborhoodIndex, x_source: torch.Tensor, values: torch.Tensor | None = None, reduce: str = "sum"
) -> torch.Tensor:
    r""":func:`propagate`, or with ``reduce="mean"`` its rows divided by their stored entries.

    The mean is what a scatter mean of the weighted messages gives: the sum
    over each target's entries over their number (1 for a target without any).
    The division runs in float32 at least, so half-precision counts do not round.

    Parameters
    ----------
    index : NeighborhoodIndex
    x_source : torch.Tensor, shape = (..., n_source_cells, channels)
    values : torch.Tensor, shape = (n_messages,), optional
        As for :func:`propagate`.
    reduce : {"sum", "add", "mean"}, default="sum"

    Returns
    -------
    torch.Tensor, shape = (..., n_target_cells, channels)
    """
    summed = propagate(index, x_source, values)
    if reduce != "mean":
        return summed
    counts = (
        index.rows.row_counts()
        if index.rows is not None
        else torch.bincount(index.target_index, minlength=index.n_target_cells)
    )
    counts = counts.clamp(min=1).unsqueeze(-1).to(torch.promote_types(summed.dtype, torch.float32))
    return (summed / counts).to(summed.dtype)


def propagate_heads(index: NeighborhoodIndex, x_source: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    r""":func:`propagate` of every head: :math:`y^h = N_{v^h} x^h`, for multi-head attention.

    Parameters
    ----------
    index : NeighborhoodIndex
    x_source : torch.Tensor, shape = (n_source_cells, heads, channels)
    values : torch.Tensor, shape = (n_messages, heads)
        Each head's value of every stored entry.

    Returns
    -------
    torch.Tensor, shape = (n_target_cells, heads, channels)
    """
    # unbind, not slicing: the backward then stacks the heads' gradients once instead of filling a zero
    # tensor per head
    per_head = zip(x_source.unbind(1), values.unbind(1), strict=True)
    return torch.stack([propagate(index, x, head_values) for x, head_values in per_head], dim=1)


def neighborhood_matmul(neighborhood, x: torch.Tensor) -> torch.Tensor:
    r""":math:`N x` for any neighborhood: what ``N @ x`` computes, through the cached CSR product when it can.

    A torch sparse neighborhood goes through :func:`propagate` (the CSR product
    with a cached transpose, or gather + scatter when its values require
    grad); anything else (a partitioned neighborhood, a chain, an operator, a
    dense matrix) through its own ``@``.

    Parameters
    ----------
    neighborhood : torch.sparse, PartitionedNeighborhood or any matrix-like, shape = (n_target_cells, n_source_cells)
    x : torch.Tensor, shape = (..., n_source_cells, channels) or (n_source_cells,)

    Returns
    -------
    torch.Tensor, shape = (..., n_target_cells, channels) or (n_target_cells,)
    """
    if not _is_sparse_tensor(neighborhood):
        return neighborhood @ x
    index = neighborhood_index(neighborhood)
    if x.dim() == 1:
        return propagate(index, x.unsqueeze(-1)).squeeze(-1)
    return propagate(index, x)


def torch_order_matmul(neighborhood, x: torch.Tensor) -> torch.Tensor:
    r""":math:`N x` as ``N @ x`` computes it, except under autocast or for features below ``N``'s precision.

    Layers that TopoModelX writes as ``N @ x`` keep torch's product, and so its
    summation order and outputs, bit for bit. Under autocast, or for features
    of lower precision than a torch sparse ``N`` (autocast's float16/bfloat16
    outputs), the product goes through :func:`neighborhood_matmul` instead,
    which sums in float32: autocast runs torch's sparse product in half
    precision, which has no kernel on CUDA and sums in half precision on the
    CPU (4,096 ones sum to 256 in bfloat16).

    Parameters
    ----------
    neighborhood : torch.sparse, PartitionedNeighborhood or any matrix-like, shape = (n_target_cells, n_source_cells)
    x : torch.Tensor, shape = (n_source_cells, channels)

    Returns
    -------
    torch.Tensor, shape = (n_target_cells, channels)
    """
    if _is_sparse_tensor(neighborhood) and (x.dtype != neighborhood.dtype or torch.is_autocast_enabled(x.device.type)):
        return neighborhood_matmul(neighborhood, x)
    return neighborhood @ x
