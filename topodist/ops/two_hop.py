r"""Two neighborhoods applied in a row, :math:`N_1 (N_2 x)`, assembled or one factor at a time.

A layer that sends features through one neighborhood and straight back
through another, with nothing between them and the intermediate features not
needed (the layers of UniGCN and UniGIN before the last: nodes to hyperedges
to nodes), applies the product :math:`N_1 N_2`. On one device that product
can be assembled once and applied as one sparse product: it reads ``x`` and
writes the output, where the two factors also write and read the
intermediate features. With the triangles of a closed surface as hyperedges
:math:`B B^T` has 7 entries per node against 3 per node in ``B`` and in
``B^T``, and the intermediate has twice the rows of the output.
Large hyperedges make the assembled product grow as the squared sizes, so the
form is chosen per pair by the bytes one product moves. Partitioned, the
factors are applied one at a time (an assembled product would need a two-hop
halo): two one-hop exchanges, as the two separate products did.
"""

import warnings
from typing import NamedTuple

import torch

from topodist.ops.neighborhood import derived_neighborhood, neighborhood_index, neighborhood_matmul

__all__ = ["TWO_HOP_FORMING_LIMIT", "TwoHopForm", "product_bytes", "two_hop_bytes", "two_hop_form", "two_hop_matmul"]

# The product is formed to count its entries only while its bound is at most this many times the factors' entries.
TWO_HOP_FORMING_LIMIT = 8


def product_bytes(
    shape: tuple[int, int], assembled_nnz: int, terms: list[list[tuple[int, int]]], channels: int
) -> tuple[int, int]:
    """Bytes one product through a sum of chains of sparse factors moves, assembled and factored.

    The least each form must move: CSR arrays (8-byte row pointers and column
    indices, 4-byte values), ``x`` read and the output written once, and in
    the factored form every intermediate written and read and every term after
    the first added into the output (read and written again). The count that
    ``laplacians: auto``
    (:meth:`topodist.data.operators.FactoredOperator.bytes_per_product`) and
    :func:`two_hop_form` choose by.

    Parameters
    ----------
    shape : (int, int)
        ``(n_target_cells, n_source_cells)`` of the product.
    assembled_nnz : int
        Stored entries of the assembled product (or a bound on them).
    terms : list of list of (int, int)
        Each term a chain, left factor first; each factor as ``(n_rows, nnz)``.
    channels : int
        Width of the float32 features.

    Returns
    -------
    assembled, factored : int
    """
    row = 4 * channels
    n_target, n_source = shape
    ends = row * (n_target + n_source)
    assembled = 8 * (n_target + 1) + 12 * assembled_nnz + ends
    factored = ends + 2 * n_target * row * (len(terms) - 1)
    for term in terms:
        factored += sum(8 * (n_rows + 1) + 12 * nnz for n_rows, nnz in term)
        factored += sum(2 * n_rows * row for n_rows, _ in term[1:])  # intermediates
    return assembled, factored


def two_hop_bytes(first, second, product_nnz: int, channels: int) -> tuple[int, int]:
    """:func:`product_bytes` of ``first @ second``, assembled and as the two factors.

    Parameters
    ----------
    first : torch.sparse, shape = (n_target_cells, n_middle_cells)
    second : torch.sparse, shape = (n_middle_cells, n_source_cells)
    product_nnz : int
        Stored entries of ``first @ second`` (or a bound on them).
    channels : int

    Returns
    -------
    assembled, factored : int
    """
    chain = [(factor.shape[0], neighborhood_index(factor).source_index.numel()) for factor in (first, second)]
    return product_bytes((first.shape[0], second.shape[1]), product_nnz, [chain], channels)


class TwoHopForm(NamedTuple):
    """How ``first @ second`` is applied, and what one product costs in each form.

    Attributes
    ----------
    product : torch.sparse or None, shape = (n_target_cells, n_source_cells)
        The assembled product when it moves fewer bytes; ``None``: the factors, one at a time.
    product_nnz : int
        Its stored entries, or their bound when it was never formed (``formed`` is ``False``).
    formed : bool
    assembled_bytes, factored_bytes : int
        :func:`two_hop_bytes` at the width chosen for.
    """

    product: torch.Tensor | None
    product_nnz: int
    formed: bool
    assembled_bytes: int
    factored_bytes: int

    @property
    def form(self) -> str:
        """``"assembled"`` or ``"factored"``."""
        return "factored" if self.product is None else "assembled"


def two_hop_form(first, second, channels: int) -> TwoHopForm:
    """Assemble ``first @ second`` when it moves fewer bytes than the two factors.

    The product's entries are bounded by :math:`\\sum_m c_m r_m` over the middle
    cells (``c_m`` entries in column ``m`` of ``first``, ``r_m`` in row ``m``
    of ``second``). When that bound already favours the assembled form it is
    formed; when the bound is at most :data:`TWO_HOP_FORMING_LIMIT` times the
    factors' entries the product is formed and its own entries decide; beyond
    that it is never formed.

    Parameters
    ----------
    first : torch.sparse, shape = (n_target_cells, n_middle_cells)
    second : torch.sparse, shape = (n_middle_cells, n_source_cells)
    channels : int
        Feature width the byte count assumes.

    Returns
    -------
    TwoHopForm
    """
    if first.shape[1] != second.shape[0]:
        raise ValueError(f"cannot chain neighborhoods of shapes {tuple(first.shape)} and {tuple(second.shape)}.")
    first_index, second_index = neighborhood_index(first), neighborhood_index(second)
    n_middle = first.shape[1]
    columns = torch.bincount(first_index.source_index, minlength=n_middle)
    rows = torch.bincount(second_index.target_index, minlength=n_middle)
    bound = min(int((columns * rows).sum()), first.shape[0] * second.shape[1])
    assembled, factored = two_hop_bytes(first, second, bound, channels)
    factors_nnz = first_index.source_index.numel() + second_index.source_index.numel()
    if assembled > factored and bound > TWO_HOP_FORMING_LIMIT * factors_nnz:
        return TwoHopForm(None, bound, False, assembled, factored)
    product = _product(first, second)
    assembled, factored = two_hop_bytes(first, second, product._nnz(), channels)
    return TwoHopForm(product if assembled <= factored else None, product._nnz(), True, assembled, factored)


def two_hop_matmul(first, second, x: torch.Tensor) -> torch.Tensor:
    r""":math:`N_1 (N_2 x)`, through the assembled :math:`N_1 N_2` when that moves fewer bytes.

    On one device the choice (:func:`two_hop_form`, at ``x``'s width) and the
    assembled product are kept for as long as both neighborhoods are the same,
    unchanged tensors (:func:`~topodist.ops.neighborhood.derived_neighborhood`).
    Partitioned neighborhoods (see the module's text), neighborhoods whose
    values require grad and anything else that is not a torch sparse tensor
    are applied one factor at a time.

    Parameters
    ----------
    first : torch.sparse or PartitionedNeighborhood, shape = (n_target_cells, n_middle_cells)
    second : torch.sparse or PartitionedNeighborhood, shape = (n_middle_cells, n_source_cells)
    x : torch.Tensor, shape = (n_source_cells, channels)

    Returns
    -------
    torch.Tensor, shape = (n_target_cells, channels)
    """
    if not (_fixed_sparse(first) and _fixed_sparse(second)):
        return neighborhood_matmul(first, neighborhood_matmul(second, x))
    channels = x.shape[-1]
    product = derived_neighborhood(
        f"two-hop product at {channels} channels", (first, second), lambda: two_hop_form(first, second, channels)
    ).product
    if product is None:
        return neighborhood_matmul(first, neighborhood_matmul(second, x))
    return neighborhood_matmul(product, x)


def _product(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """``first @ second`` as a coalesced COO tensor (either factor COO or CSR).

    torch multiplies COO tensors through CSR ones and announces CSR support as
    beta on first use; the caller asked for no CSR tensor, so that is not shown.
    """
    first, second = (n.to_sparse_coo() if n.is_sparse_csr else n for n in (first, second))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta state", UserWarning)
        return torch.sparse.mm(first, second).coalesce()


def _fixed_sparse(neighborhood) -> bool:
    """A torch sparse tensor (COO or CSR) whose values do not require grad."""
    return (
        isinstance(neighborhood, torch.Tensor)
        and neighborhood.layout in (torch.sparse_coo, torch.sparse_csr)
        and not neighborhood.requires_grad
    )
