r"""Laplacians partitioned assembled, or factored into the incidences they are products of.

:math:`L^{\downarrow}_k = B_k^T B_k` and :math:`L^{\uparrow}_k = B_{k+1} B_{k+1}^T`
(and their ``scaled_`` versions, divided by :math:`\lambda_{\max}(L_k)`) can be
partitioned as the matrix itself, one product and one exchange over its
two-hop halo, or as its two factors, applied right to left
(:class:`~topodist.distributed.chain.NeighborhoodChain`): two products, two
one-hop exchanges, and the product never stored. The assembled form stores
the squared degrees of the middle cells (the edge down-Laplacian of a clique
complex of mean vertex degree 25 stores 25 times the entries of its incidence)
and the factored form writes and reads an intermediate on the middle cells.

:func:`choose_product_forms` compares the bytes one product ``L @ x`` moves
in each form on the whole complex
(:meth:`topodist.data.operators.FactoredOperator.bytes_per_product`, with
``L``'s stored entries bounded by the squared degrees, so ``L`` is never
assembled to choose): the same count on every rank (no timing noise to
disagree on), the one ``topodist inspect`` reports, and the one that picks the
faster form in 7 of 8 measured cases (BENCHMARKS.md, "Laplacians assembled or
as a chain"). A ``scaled_`` Laplacian still assembles the Hodge Laplacian once
for :math:`\lambda_{\max}` (``Complex.hodge_eigenvalue``, shared with the scaled matrices).
"""

from dataclasses import dataclass
from typing import Literal

from topodist.data.neighborhoods import parse_neighborhood_name

__all__ = ["PRODUCT_FORM_MODES", "ProductForm", "choose_product_forms", "laplacian_factors", "matrices_to_partition"]

PRODUCT_FORM_MODES = ("assembled", "factored", "auto")
_FACTORABLE = ("up_laplacian", "down_laplacian", "scaled_up_laplacian", "scaled_down_laplacian")


@dataclass(frozen=True)
class ProductForm:
    """How one Laplacian is partitioned, and what each form costs.

    Attributes
    ----------
    name : str
        The Laplacian, e.g. ``"down_laplacian_1"``.
    form : {"assembled", "factored"}
    factors : (str, str)
        The incidences whose product it is, left factor first.
    scale : float
        ``name = scale * factors[0] @ factors[1]`` (``1 / lambda_max`` for ``scaled_``).
    assembled_bytes, factored_bytes : int
        Bytes one product with ``channels`` float32 features moves in each form.
    """

    name: str
    form: str
    factors: tuple[str, str]
    scale: float
    assembled_bytes: int
    factored_bytes: int


def laplacian_factors(name: str) -> tuple[str, str] | None:
    """The incidences ``(left, right)`` whose product ``name`` is, or ``None`` when it is not one.

    Parameters
    ----------
    name : str
        A neighborhood name.

    Returns
    -------
    (str, str) or None
        ``("incidence_k.T", "incidence_k")`` for ``down_laplacian_k``,
        ``("incidence_{k+1}", "incidence_{k+1}.T")`` for ``up_laplacian_k``.
    """
    try:
        kind, ranks = parse_neighborhood_name(name)
    except ValueError:
        return None
    if kind not in _FACTORABLE:
        return None
    k = ranks[0]
    if kind.endswith("down_laplacian"):
        return (f"incidence_{k}.T", f"incidence_{k}") if k > 0 else None
    return f"incidence_{k + 1}", f"incidence_{k + 1}.T"


def choose_product_forms(
    complex_, names: list[str], mode: Literal["assembled", "factored", "auto"], channels: int = 64
) -> dict[str, ProductForm]:
    """The form of every factorable Laplacian among ``names``.

    Parameters
    ----------
    complex_ : topodist.data.Complex
        The whole complex (every rank holds it and computes the same answer).
    names : list of str
        Neighborhoods a run needs; those that are not up or down Laplacians are left out.
    mode : {"assembled", "factored", "auto"}
        Every Laplacian assembled, every one factored, or each in the form that moves fewer bytes.
    channels : int, default=64
        Feature width the byte count assumes.

    Returns
    -------
    dict of str to ProductForm
    """
    if mode not in PRODUCT_FORM_MODES:
        raise ValueError(f"laplacians={mode!r}: choose one of {', '.join(PRODUCT_FORM_MODES)}.")
    forms = {}
    for name in names:
        factors = laplacian_factors(name)
        if factors is None:
            continue
        base = name.removeprefix("scaled_")
        try:
            assembled, factored = complex_.factored(base).bytes_per_product(channels)
        except ValueError as error:
            raise ValueError(f"{name}: {error}") from None
        form = mode if mode != "auto" else ("factored" if factored < assembled else "assembled")
        scale = 1.0
        if name != base:  # as topodist.data.neighborhoods.scale_by divides
            eigenvalue = complex_.hodge_eigenvalue(parse_neighborhood_name(name)[1][0])
            scale = 1.0 / eigenvalue if eigenvalue else 0.0
        forms[name] = ProductForm(name, form, factors, scale, assembled, factored)
    return forms


def matrices_to_partition(names: list[str], forms: dict[str, ProductForm]) -> list[str]:
    """``names`` with every factored Laplacian replaced by its two factors (duplicates dropped, order kept)."""
    resolved = []
    for name in names:
        form = forms.get(name)
        resolved.extend(form.factors if form is not None and form.form == "factored" else (name,))
    return list(dict.fromkeys(resolved))
