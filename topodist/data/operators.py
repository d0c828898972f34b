r"""Neighborhoods applied as chains of sparse products instead of assembled matrices.

A Laplacian such as :math:`L_1 = B_1^T B_1 + B_2 B_2^T` can be applied to features
as :math:`B_1^T (B_1 x) + B_2 (B_2^T x)`, touching ``2 (nnz(B_1) + nnz(B_2))`` entries
instead of ``nnz(L_1)``. On clique complexes the down part alone has
:math:`\sum_v \deg(v)^2` entries, far more than its factors. Which form is
cheaper is decided by the bytes one product moves
(:meth:`FactoredOperator.bytes_per_product`): the count that picks the faster
form in 7 of 8 measured cases (BENCHMARKS.md), where the entries touched alone
pick it in 6.
"""

from dataclasses import dataclass

import numpy as np
import torch

from topodist.ops.neighborhood import neighborhood_index, propagate
from topodist.ops.two_hop import product_bytes

__all__ = ["FactoredOperator"]


@dataclass(frozen=True)
class FactoredOperator:
    """A sum of products of sparse factors, applied right to left.

    Attributes
    ----------
    name : str
        The neighborhood it represents, e.g. ``"hodge_laplacian_1"``.
    terms : tuple of tuple of torch.Tensor
        Each term is a chain of sparse matrices ``(F_1, ..., F_m)`` standing for
        ``F_1 @ ... @ F_m``.
    shape : (int, int)
        Shape of the represented matrix.
    assembled_nnz_bound : int
        Upper bound on the number of stored entries of the assembled matrix.
    """

    name: str
    terms: tuple[tuple[torch.Tensor, ...], ...]
    shape: tuple[int, int]
    assembled_nnz_bound: int

    @property
    def factored_nnz(self) -> int:
        """Entries touched by one application: the sum of the factors' nnz."""
        return sum(int(factor._nnz()) for term in self.terms for factor in term)

    def bytes_per_product(self, channels: int = 64, assembled_nnz: int | None = None) -> tuple[int, int]:
        """Bytes one product ``L @ x`` with ``channels`` float32 features moves, assembled and factored.

        :func:`topodist.ops.two_hop.product_bytes` of its terms: the least each
        form must move (CSR arrays, ``x`` read and ``y`` written once, and in the
        factored form the intermediates and the sum of the terms).

        Parameters
        ----------
        channels : int, default=64
        assembled_nnz : int, optional
            Stored entries of the assembled matrix; ``assembled_nnz_bound`` when omitted.

        Returns
        -------
        assembled, factored : int
        """
        nnz = self.assembled_nnz_bound if assembled_nnz is None else assembled_nnz
        terms = [[(factor.shape[0], int(factor._nnz())) for factor in term] for term in self.terms]
        return product_bytes(self.shape, nnz, terms, channels)

    @property
    def cheaper(self) -> str:
        """``"factored"`` or ``"assembled"``: the form that moves fewer bytes at 64 channels."""
        assembled, factored = self.bytes_per_product()
        return "factored" if factored < assembled else "assembled"

    def __matmul__(self, x: torch.Tensor) -> torch.Tensor:
        """Apply to features.

        Parameters
        ----------
        x : torch.Tensor, shape = (..., shape[1], channels)

        Returns
        -------
        torch.Tensor, shape = (..., shape[0], channels)
        """
        total = None
        for term in self.terms:
            y = x
            for factor in reversed(term):
                y = propagate(neighborhood_index(factor), y)
            total = y if total is None else total + y
        return total


def gram_nnz_bound(row_counts: np.ndarray) -> int:
    """Upper bound on nnz of ``B^T B`` given the nnz of each row of ``B`` (or of ``B B^T``, columns)."""
    return int(np.sum(row_counts.astype(np.int64) ** 2))
