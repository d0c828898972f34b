"""Describe a complex: cells per rank, Betti numbers, size and cost of each neighborhood."""

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from tqdm import tqdm

from topodist.data.complex import Complex
from topodist.ops.two_hop import two_hop_form

__all__ = ["default_neighborhoods", "describe", "format_description"]

DENSE_RANK_LIMIT = 2000  # Betti numbers above rank 0 need dense ranks of B_k
MAX_ASSEMBLED_NNZ = 50_000_000


def default_neighborhoods(complex_: Complex) -> list[str]:
    """The neighborhoods TopoModelX models use for a complex of this kind."""
    top = complex_.max_rank
    if not complex_.oriented:
        ranks = [k for k in range(1, top + 1) if complex_.n_cells[k]]
        return [f"incidence_0_{k}" for k in ranks] + [f"adjacency_0_{k}" for k in ranks]
    names = [f"incidence_{k}" for k in range(1, top + 1)]
    names += [f"adjacency_{k}" for k in range(top)] + [f"coadjacency_{k}" for k in range(1, top + 1)]
    for k in range(top + 1):
        names += [f"up_laplacian_{k}"] if k < top else []
        names += [f"down_laplacian_{k}"] if k > 0 else []
        names += [f"hodge_laplacian_{k}"] if top > 0 else []
    return names


def describe(complex_: Complex, names: list[str] | None = None) -> dict:
    """Sizes and costs of a complex's neighborhoods, as a JSON-serialisable dict.

    Parameters
    ----------
    complex_ : Complex
    names : list of str, optional
        Neighborhoods to describe; :func:`default_neighborhoods` when omitted.

    Returns
    -------
    dict
        ``cells`` per rank, ``betti`` numbers (``None`` where too costly) and one
        entry per neighborhood: shape, nnz, memory in COO and CSR, and for
        Laplacians the factored cost and the form that moves fewer bytes per
        product at 64 channels (``FactoredOperator.bytes_per_product``: what
        ``data.init_args.laplacians=auto`` picks). After each incidence of a
        hypergraph (or other unoriented complex), ``B @ B.T`` with the form
        :func:`~topodist.ops.two_hop.two_hop_form` picks at 64 channels: how
        the layers of UniGCN and UniGIN before the last apply it on one device.
    """
    names = default_neighborhoods(complex_) if names is None else names
    rows = []
    for name in tqdm(names, desc="building neighborhoods", delay=1.0, leave=False):
        rows.append(_describe_neighborhood(complex_, name))
        if not complex_.oriented and name.startswith("incidence_0_"):
            rows.append(_describe_two_hop(complex_, name))
    return {
        "name": complex_.name,
        "kind": complex_.kind,
        "cells": list(complex_.n_cells),
        "betti": betti_numbers(complex_),
        "neighborhoods": rows,
    }


def _describe_neighborhood(complex_: Complex, name: str) -> dict:
    row: dict = {"name": name}
    factored = None
    if "laplacian" in name and not name.startswith(("scaled", "sym")):
        factored = complex_.factored(name)
        row["factored_nnz"] = factored.factored_nnz
        row["assembled_nnz_bound"] = factored.assembled_nnz_bound
        row["assembled_bytes"], row["factored_bytes"] = factored.bytes_per_product()
        row["cheaper"] = factored.cheaper  # what data.init_args.laplacians=auto picks
    if factored is not None and factored.assembled_nnz_bound > MAX_ASSEMBLED_NNZ:
        row.update(shape=list(factored.shape), nnz=None)
        return row
    kind, _, rank = name.rpartition("_")
    if complex_.oriented and kind in ("adjacency", "coadjacency"):
        # (co)adjacencies share the sparsity of the up (down) Laplacian, less the diagonal
        laplacian = complex_.factored(f"{'up' if kind == 'adjacency' else 'down'}_laplacian_{rank}")
        if laplacian.assembled_nnz_bound > MAX_ASSEMBLED_NNZ:
            row.update(shape=list(laplacian.shape), nnz=None, assembled_nnz_bound=laplacian.assembled_nnz_bound)
            return row
    matrix = complex_.matrix(name)
    row.update(shape=list(matrix.shape), **_stored(int(matrix.nnz), matrix.shape[0]))
    return row


def _stored(nnz: int, n_rows: int) -> dict:
    """``nnz`` and the bytes of a matrix with ``nnz`` float32 entries in COO and in CSR."""
    return {"nnz": nnz, "coo_bytes": nnz * (2 * 8 + 4), "csr_bytes": nnz * (8 + 4) + (n_rows + 1) * 8}


def _describe_two_hop(complex_: Complex, name: str) -> dict:
    incidence = complex_.neighborhood(name)
    form = two_hop_form(incidence, incidence.t().coalesce(), channels=64)
    n_rows = incidence.shape[0]
    row = {
        "name": f"{name} @ {name}.T",
        "shape": [n_rows, n_rows],
        "factored_nnz": 2 * int(incidence._nnz()),
        "assembled_bytes": form.assembled_bytes,
        "factored_bytes": form.factored_bytes,
        "cheaper": form.form,
    }
    if not form.formed:
        row.update(nnz=None, assembled_nnz_bound=form.product_nnz)
        return row
    row.update(_stored(form.product_nnz, n_rows))
    return row


def betti_numbers(complex_: Complex) -> list[int | None]:
    """Betti numbers over the reals where cheap: rank 0 always, others below a size limit.

    Parameters
    ----------
    complex_ : Complex

    Returns
    -------
    list of int or None
        ``beta_k = n_k - rank(B_k) - rank(B_{k+1})``; ``None`` where a rank
        would need a dense matrix with more than 2000 rows or columns, and for
        complexes that are not oriented.
    """
    if not complex_.oriented:
        return [None] * (complex_.max_rank + 1)
    top, n = complex_.max_rank, complex_.n_cells

    def rank_of_boundary(k: int) -> int | None:
        if k < 1 or k > top or 0 in (n[k - 1], n[k]):
            return 0
        if min(n[k - 1], n[k]) > DENSE_RANK_LIMIT:
            return None
        return int(np.linalg.matrix_rank(complex_.matrix(f"incidence_{k}").toarray()))

    ranks = [rank_of_boundary(k) for k in range(top + 2)]
    betti: list[int | None] = []
    for k in range(top + 1):
        if k == 0:
            graph = complex_.matrix("adjacency_0") if top >= 1 else sp.csr_array((n[0], n[0]))
            betti.append(int(connected_components(graph, directed=False)[0]))
        elif ranks[k] is None or ranks[k + 1] is None:
            betti.append(None)
        else:
            betti.append(n[k] - ranks[k] - ranks[k + 1])
    return betti


def _neighborhood_row(name, shape, nnz, coo, csr, factored, cheaper) -> str:
    return f"{name:<31} {shape:>21} {nnz:>13} {coo:>9} {csr:>9} {factored:>13}  {cheaper}"


def format_description(description: dict) -> str:
    """Render :func:`describe`'s output as plain-text tables."""
    lines = [f"{description['name'] or 'complex'} ({description['kind']})", ""]
    lines.append(f"{'rank':>4}  {'cells':>12}  {'betti':>6}")
    for rank, (count, betti) in enumerate(zip(description["cells"], description["betti"])):
        lines.append(f"{rank:>4}  {count:>12,}  {'-' if betti is None else betti:>6}")
    header = ("neighborhood", "shape", "nnz", "COO MB", "CSR MB", "factored nnz")
    lines += ["", _neighborhood_row(*header, "cheaper")]
    for row in description["neighborhoods"]:
        shape = "x".join(f"{s:,}" for s in row["shape"])
        nnz = f"{row['nnz']:,}" if row.get("nnz") is not None else f"<={row['assembled_nnz_bound']:,}"
        coo = f"{row['coo_bytes'] / 1e6:.1f}" if "coo_bytes" in row else "-"
        csr = f"{row['csr_bytes'] / 1e6:.1f}" if "csr_bytes" in row else "-"
        factored = f"{row['factored_nnz']:,}" if "factored_nnz" in row else "-"
        lines.append(_neighborhood_row(row["name"], shape, nnz, coo, csr, factored, row.get("cheaper", "-")))
    return "\n".join(lines)
