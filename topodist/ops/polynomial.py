r"""Polynomial filters: the powers :math:`N x, N^2 x, \dots, N^K x` of a neighborhood applied to features.

Computed as repeated sparse products, never by forming :math:`N^k` or an identity
matrix, so they work the same on a torch sparse matrix and on a partitioned
neighborhood (one halo exchange per power).
"""

import torch

from topodist.ops.neighborhood import torch_order_matmul

__all__ = ["HarmonicProjection", "inverse_row_sums", "neighborhood_powers"]


def inverse_row_sums(neighborhood) -> torch.Tensor:
    r""":math:`1 / \sum_j N_{ij}` for every row, 0 where the row sums to 0.

    Parameters
    ----------
    neighborhood : torch.sparse or PartitionedNeighborhood, shape = (n_target_cells, n_source_cells)

    Returns
    -------
    torch.Tensor, shape = (n_target_cells,)
    """
    sums = torch.sparse.sum(neighborhood, dim=1)
    if sums.is_sparse:
        sums = sums.to_dense()
    nonzero = sums != 0
    return torch.where(nonzero, 1 / torch.where(nonzero, sums, torch.ones_like(sums)), torch.zeros_like(sums))


def neighborhood_powers(
    neighborhood, x: torch.Tensor, order: int, aggr_norm: bool = False, normalize_first: bool = True
) -> torch.Tensor:
    r"""Stack :math:`x_k = N x_{k-1}` for :math:`k = 1, \dots, K`, with :math:`x_0 = x`.

    With ``aggr_norm`` every :math:`x_k` is divided by the row sums of :math:`N`
    (zero rows stay zero, non-finite entries become 0) before the next power is
    taken; ``normalize_first=False`` leaves :math:`x_1` unnormalized, as
    TopoModelX 0.0.1's ``SCNNLayer`` does.

    Parameters
    ----------
    neighborhood : torch.sparse or PartitionedNeighborhood, shape = (n_cells, n_cells)
    x : torch.Tensor, shape = (n_cells, channels)
    order : int
        :math:`K`, at least 1.
    aggr_norm : bool, default=False
    normalize_first : bool, default=True

    Returns
    -------
    torch.Tensor, shape = (n_cells, channels, order)
    """
    inverse = inverse_row_sums(neighborhood).unsqueeze(-1) if aggr_norm else None
    powers = []
    for k in range(order):
        x = torch_order_matmul(neighborhood, x)
        if inverse is not None and (k > 0 or normalize_first):
            x = inverse * x
            x = torch.where(torch.isfinite(x), x, torch.zeros_like(x))
        powers.append(x)
    return torch.stack(powers, dim=-1)


class HarmonicProjection:
    r"""The operator :math:`(I - \varepsilon L)^K`, applied as :math:`K` sparse products.

    For small :math:`\varepsilon` and large :math:`K` it approaches the projection
    onto the kernel of :math:`L` (the harmonic space of a Hodge Laplacian). It is
    never formed: ``P @ x`` computes :math:`x \leftarrow x - \varepsilon L x`
    :math:`K` times, so it costs :math:`K` sparse products (and, partitioned,
    :math:`K` one-hop exchanges) instead of a dense :math:`n \times n` matrix.

    Parameters
    ----------
    laplacian : torch.sparse or PartitionedNeighborhood, shape = (n_cells, n_cells)
    epsilon : float
    order : int
        :math:`K`.
    """

    def __init__(self, laplacian, epsilon: float, order: int) -> None:
        self.laplacian = laplacian
        self.epsilon = epsilon
        self.order = order

    @property
    def shape(self) -> torch.Size:
        """Shape of the Laplacian."""
        return torch.Size(self.laplacian.shape)

    def __repr__(self) -> str:
        return f"HarmonicProjection(epsilon={self.epsilon}, order={self.order}, shape={tuple(self.shape)})"

    def __matmul__(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`(I - \varepsilon L)^K x` for ``x`` of shape ``(n_cells, channels)``."""
        for _ in range(self.order):
            x = x - self.epsilon * torch_order_matmul(self.laplacian, x)
        return x
