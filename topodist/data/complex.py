"""One in-memory representation for every kind of complex topodist trains on."""

from collections.abc import Mapping
from typing import Literal

import numpy as np
import scipy.sparse as sp
import torch

from topodist.data import neighborhoods as nb
from topodist.data.operators import FactoredOperator, gram_nnz_bound
from topodist.data.sparse import as_csr, binary, to_torch_sparse

__all__ = ["COMPLEX_KINDS", "Complex"]

COMPLEX_KINDS = ("simplicial", "cell", "combinatorial", "hypergraph")
ORIENTED_KINDS = ("simplicial", "cell")


class Complex:
    """A complex: cell counts per rank, its incidences, and data on its cells.

    The primitive data are incidence matrices; every other neighborhood
    (see :mod:`topodist.data.neighborhoods` for names and formulas) is derived
    on first request and cached.

    Parameters
    ----------
    kind : {"simplicial", "cell", "combinatorial", "hypergraph"}
        Simplicial and cell complexes are oriented: their incidences
        ``(k - 1, k)`` are signed boundary matrices. Combinatorial complexes and
        hypergraphs give, for each rank ``k >= 1``, the 0/1 incidence ``(0, k)``
        of nodes in cells.
    n_cells : sequence of int
        Number of cells of each rank, from rank 0 (nodes) up.
    incidences : mapping from (int, int) to scipy.sparse matrix
        ``(r, s) -> matrix of shape (n_cells[r], n_cells[s])``.
    features : mapping from int to torch.Tensor, optional
        Rank -> features of shape ``(n_cells[rank], channels)``.
    labels : mapping from int to torch.Tensor, optional
        Rank -> one label (class index or regression target) per cell.
    masks : mapping from str to mapping from int to torch.Tensor, optional
        Split name (``"train"``, ``"val"``, ``"test"``) -> rank -> boolean mask.
    complex_label : int, optional
        Label of the whole complex, for complex-level tasks.
    positions : torch.Tensor, shape = (n_cells[0], dim), optional
        Node coordinates, for meshes and geometric complexes.
    cells : mapping from int to np.ndarray, optional
        Rank ``k >= 1`` -> node ids of its cells, shape ``(n_cells[k], k + 1)``
        for simplicial complexes, ``(n_cells[k], m)`` with ``m >= k + 1`` for
        the others (e.g. the 4 corners of square faces, in boundary order).
    name : str, default=""
        Human-readable name.
    """

    def __init__(
        self,
        kind: Literal["simplicial", "cell", "combinatorial", "hypergraph"],
        n_cells: list[int] | tuple[int, ...],
        incidences: Mapping[tuple[int, int], sp.sparray | sp.spmatrix],
        features: Mapping[int, torch.Tensor] | None = None,
        labels: Mapping[int, torch.Tensor] | None = None,
        masks: Mapping[str, Mapping[int, torch.Tensor]] | None = None,
        complex_label: int | None = None,
        positions: torch.Tensor | None = None,
        cells: Mapping[int, np.ndarray] | None = None,
        name: str = "",
    ) -> None:
        if kind not in COMPLEX_KINDS:
            raise ValueError(f"kind={kind!r} is not a complex kind; choose one of {COMPLEX_KINDS}.")
        self.kind = kind
        self.n_cells = tuple(int(n) for n in n_cells)
        self.incidences = {
            (int(r), int(s)): as_csr(matrix) for (r, s), matrix in incidences.items()
        }
        self.features = dict(features or {})
        self.labels = dict(labels or {})
        self.masks = {split: dict(by_rank) for split, by_rank in (masks or {}).items()}
        self.complex_label = complex_label
        self.positions = positions
        self.cells = dict(cells or {})
        self.name = name
        self._matrices: dict[str, sp.csr_array] = {}
        self._tensors: dict[tuple[str, torch.layout, torch.dtype], torch.Tensor] = {}
        self._eigenvalues: dict[int, float] = {}
        self._validate()

    # ----------------------------------------------------------------- structure
    @property
    def oriented(self) -> bool:
        """Whether incidences are signed (simplicial and cell complexes)."""
        return self.kind in ORIENTED_KINDS

    @property
    def max_rank(self) -> int:
        """Highest rank (``len(n_cells) - 1``)."""
        return len(self.n_cells) - 1

    def __repr__(self) -> str:
        title = f"{self.name!r}, " if self.name else ""
        return f"Complex({title}kind={self.kind!r}, n_cells={self.n_cells})"

    def _validate(self) -> None:
        if not self.n_cells or any(n < 0 for n in self.n_cells):
            raise ValueError(f"n_cells must be non-negative counts per rank, got {self.n_cells}.")
        for (r, s), matrix in self.incidences.items():
            if not 0 <= r < s <= self.max_rank:
                raise ValueError(f"incidence ({r}, {s}) needs 0 <= r < s <= {self.max_rank}.")
            expected = (self.n_cells[r], self.n_cells[s])
            if matrix.shape != expected:
                raise ValueError(
                    f"incidence ({r}, {s}) has shape {matrix.shape}, expected {expected} "
                    "(n_cells of the two ranks)."
                )
        if self.positions is not None:
            _check_rows(self.positions, self.n_cells, 0, "positions")
        for rank, cells in self.cells.items():
            if self.kind == "simplicial" and cells.shape != (self.n_cells[rank], rank + 1):
                raise ValueError(f"cells[{rank}] must have shape ({self.n_cells[rank]}, {rank + 1}).")
            if cells.ndim != 2 or cells.shape[0] != self.n_cells[rank] or cells.shape[1] < rank + 1:
                raise ValueError(
                    f"cells[{rank}] must have shape ({self.n_cells[rank]}, m) with m >= {rank + 1} node ids per cell."
                )
        for rank, x in self.features.items():
            _check_rows(x, self.n_cells, rank, "features")
        for rank, y in self.labels.items():
            _check_rows(y, self.n_cells, rank, "labels")
        for split, by_rank in self.masks.items():
            for rank, mask in by_rank.items():
                _check_rows(mask, self.n_cells, rank, f"masks[{split!r}]")
                if mask.dtype != torch.bool:
                    raise TypeError(f"masks[{split!r}][{rank}] must be boolean, got {mask.dtype}.")

    def _check_rank(self, rank: int, name: str) -> None:
        if not 0 <= rank <= self.max_rank:
            raise ValueError(
                f"{name}: rank {rank} does not exist; this {self.kind} complex has ranks 0..{self.max_rank}."
            )

    # ---------------------------------------------------------------- incidences
    def incidence_matrix(self, rank: int, to_rank: int, signed: bool = True) -> sp.csr_array:
        """Incidence between the cells of ``rank`` (rows) and of ``to_rank`` (columns).

        Parameters
        ----------
        rank, to_rank : int
            Ranks with ``rank < to_rank``.
        signed : bool, default=True
            Keep the orientation signs of an oriented complex's boundary matrix
            ``(k - 1, k)``; every other incidence is 0/1.

        Returns
        -------
        scipy.sparse.csr_array, shape = (n_cells[rank], n_cells[to_rank])
        """
        name = f"incidence_{rank}_{to_rank}"
        self._check_rank(rank, name)
        self._check_rank(to_rank, name)
        if rank >= to_rank:
            raise ValueError(f"{name}: needs rank < to_rank.")
        if (rank, to_rank) in self.incidences:
            matrix = self.incidences[(rank, to_rank)]
            return matrix if signed and self.oriented else binary(matrix)
        if self.oriented:
            chain = self.incidence_matrix(rank, rank + 1, signed=False)
            for k in range(rank + 1, to_rank):
                chain = chain @ self.incidence_matrix(k, k + 1, signed=False)
            return binary(chain)
        return self._subset_incidence(rank, to_rank)

    def _node_membership(self, rank: int) -> sp.csr_array:
        if rank == 0:
            return sp.eye_array(self.n_cells[0], format="csr")
        if self.n_cells[rank] == 0:
            return sp.csr_array((self.n_cells[0], 0))
        if (0, rank) not in self.incidences:
            raise ValueError(
                f"this {self.kind} complex has no cells of rank {rank} given by their nodes."
            )
        return binary(self.incidences[(0, rank)])

    def _subset_incidence(self, rank: int, to_rank: int) -> sp.csr_array:
        """0/1 matrix: the node set of cell i (rank) is contained in that of cell j (to_rank)."""
        lower, upper = self._node_membership(rank), self._node_membership(to_rank)
        shared = (lower.T @ upper).tocoo()
        size = np.asarray(lower.sum(axis=0)).ravel()
        keep = shared.data == size[shared.row]
        return sp.csr_array(
            (np.ones(int(keep.sum())), (shared.row[keep], shared.col[keep])),
            shape=(self.n_cells[rank], self.n_cells[to_rank]),
        )

    # ------------------------------------------------------------- neighborhoods
    def matrix(self, name: str) -> sp.csr_array:
        """A named neighborhood as a scipy CSR matrix (float64), computed once and cached.

        Parameters
        ----------
        name : str
            See :mod:`topodist.data.neighborhoods`; a ``.T`` suffix transposes.

        Returns
        -------
        scipy.sparse.csr_array
        """
        if name not in self._matrices:
            if name.endswith(".T"):
                transposed = sp.csr_array(self.matrix(name.removesuffix(".T")).T)
                transposed.sort_indices()
                self._matrices[name] = transposed
            else:
                self._matrices[name] = self._compute(name)
        return self._matrices[name]

    def hodge_eigenvalue(self, rank: int) -> float:
        r""":math:`\lambda_{\max}` of ``hodge_laplacian_<rank>``, which ``scaled_`` Laplacians divide by; computed once.

        Parameters
        ----------
        rank : int

        Returns
        -------
        float
        """
        if rank not in self._eigenvalues:
            self._eigenvalues[rank] = nb.largest_eigenvalue(self.matrix(f"hodge_laplacian_{rank}"))
        return self._eigenvalues[rank]

    def neighborhood(
        self,
        name: str,
        layout: Literal["coo", "csr"] = "coo",
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        """A named neighborhood as a torch sparse tensor with int64 indices, cached.

        Parameters
        ----------
        name : str
            See :mod:`topodist.data.neighborhoods`, e.g. ``"hodge_laplacian_1"``.
        layout : {"coo", "csr"}, default="coo"
            Sparse layout; COO is coalesced.
        dtype : torch.dtype, default=torch.float32
            Value type.

        Returns
        -------
        torch.sparse, shape = (n_target_cells, n_source_cells)
        """
        torch_layout = {"coo": torch.sparse_coo, "csr": torch.sparse_csr}.get(layout)
        if torch_layout is None:
            raise ValueError(f"layout={layout!r} is not supported; choose 'coo' or 'csr'.")
        key = (name, torch_layout, dtype)
        if key not in self._tensors:
            self._tensors[key] = to_torch_sparse(self.matrix(name), layout, dtype)
        return self._tensors[key]

    def factored(self, name: str, dtype: torch.dtype = torch.float32) -> FactoredOperator:
        """A Laplacian as products of incidences, never assembled.

        Parameters
        ----------
        name : str
            ``up_laplacian_k``, ``down_laplacian_k`` or ``hodge_laplacian_k``.
        dtype : torch.dtype, default=torch.float32

        Returns
        -------
        FactoredOperator
            ``operator @ x`` equals ``neighborhood(name) @ x``.
        """
        kind, ranks = nb.parse_neighborhood_name(name)
        if kind not in ("up_laplacian", "down_laplacian", "hodge_laplacian"):
            raise ValueError(f"{name}: only Laplacians have a factored form.")
        k = ranks[0]
        self._check_rank(k, name)
        terms, bound = [], 0
        if kind != "up_laplacian" and k > 0:
            incidence = self.neighborhood(f"incidence_{k}", dtype=dtype)
            terms.append((incidence.t().coalesce(), incidence))
            bound += gram_nnz_bound(np.diff(self.matrix(f"incidence_{k}").indptr))
        if kind != "down_laplacian" and k < self.max_rank:
            incidence = self.neighborhood(f"incidence_{k + 1}", dtype=dtype)
            terms.append((incidence, incidence.t().coalesce()))
            bound += gram_nnz_bound(np.diff(self.matrix(f"incidence_{k + 1}").tocsc().indptr))
        if not terms:
            self._rank_error(name)
        n = self.n_cells[k]
        return FactoredOperator(name, tuple(terms), (n, n), min(bound, n * n))

    def _compute(self, name: str) -> sp.csr_array:
        kind, ranks = nb.parse_neighborhood_name(name)
        k = ranks[0]
        self._check_rank(k, name)
        if kind == "incidence":
            if k == 0:
                raise ValueError(f"{name}: incidences start at rank 1 (B_1 maps edges to nodes).")
            return self.incidence_matrix(k - 1, k, signed=True)
        if kind == "incidence_unsigned":
            return self.incidence_matrix(k - 1, k, signed=False) if k else self._rank_error(name)
        if kind == "incidence_between":
            return self.incidence_matrix(k, ranks[1])
        if kind in ("up_laplacian", "down_laplacian", "hodge_laplacian"):
            return self._laplacian(kind, k, name)
        if kind == "adjacency":
            return self._adjacency_via(k, k + 1, name)
        if kind == "coadjacency":
            return self._coadjacency_via(k, k - 1, name)
        if kind == "adjacency_via":
            return self._adjacency_via(k, ranks[1], name)
        if kind == "coadjacency_via":
            return self._coadjacency_via(k, ranks[1], name)
        if kind == "sym_normalized_hodge_laplacian":
            return nb.sym_normalize(self.matrix(f"hodge_laplacian_{k}"))
        if kind.startswith("scaled_"):
            return nb.scale_by(self.matrix(name.removeprefix("scaled_")), self.hodge_eigenvalue(k))
        if kind in ("kipf_adjacency", "kipf_coadjacency"):
            return nb.kipf_normalize(self.matrix(name.removeprefix("kipf_")))
        if kind == "inverse_shifted_down_laplacian":
            shifted = self.matrix(f"down_laplacian_{k}") + sp.identity(self.n_cells[k], format="csr")
            pattern = self.matrix(f"adjacency_{k}") + sp.identity(self.n_cells[k], format="csr")
            return nb.inverse_on_pattern(shifted, pattern)
        raise AssertionError(kind)

    def _rank_error(self, name: str) -> sp.csr_array:
        raise ValueError(f"{name}: this {self.kind} complex has ranks 0..{self.max_rank}.")

    def _laplacian(self, kind: str, k: int, name: str) -> sp.csr_array:
        has_up, has_down = k < self.max_rank, k > 0
        if kind == "up_laplacian":
            return nb.gram(self.matrix(f"incidence_{k + 1}"), transpose=False) if has_up else self._rank_error(name)
        if kind == "down_laplacian":
            return nb.gram(self.matrix(f"incidence_{k}"), transpose=True) if has_down else self._rank_error(name)
        n = self.n_cells[k]
        total = sp.csr_array((n, n))
        if has_up:
            total = total + self.matrix(f"up_laplacian_{k}")
        if has_down:
            total = total + self.matrix(f"down_laplacian_{k}")
        total = sp.csr_array(total)
        total.eliminate_zeros()
        total.sort_indices()
        return total

    def _adjacency_via(self, k: int, via: int, name: str) -> sp.csr_array:
        if not k < via <= self.max_rank:
            return self._rank_error(name)
        return nb.off_diagonal(nb.gram(self.incidence_matrix(k, via, signed=False), transpose=False))

    def _coadjacency_via(self, k: int, via: int, name: str) -> sp.csr_array:
        if not 0 <= via < k:
            return self._rank_error(name)
        return nb.off_diagonal(nb.gram(self.incidence_matrix(via, k, signed=False), transpose=True))


def _check_rows(x: torch.Tensor, n_cells: tuple[int, ...], rank: int, what: str) -> None:
    if not 0 <= rank < len(n_cells):
        raise ValueError(f"{what}[{rank}]: rank {rank} does not exist (ranks 0..{len(n_cells) - 1}).")
    if not isinstance(x, torch.Tensor) or x.shape[0] != n_cells[rank]:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{what}[{rank}] must have {n_cells[rank]} rows (cells of rank {rank}), got {shape}.")
