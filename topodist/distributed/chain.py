r"""A product of partitioned neighborhoods, applied one factor at a time.

``B2 @ B2.T`` on one device forms the sparse product. Partitioned, the product's
rows would need a two-hop halo; applying the factors right to left instead,
:math:`(N_1 N_2) x = N_1 (N_2 x)`, needs one one-hop exchange per factor and
never forms the product, whose entries grow as the squared degrees.
"""

import torch

from topodist.ops.neighborhood import neighborhood_matmul

__all__ = ["NeighborhoodChain"]


class NeighborhoodChain:
    """The product ``factors[0] @ factors[1] @ ... @ factors[-1]``, kept factored.

    Parameters
    ----------
    factors : sequence of PartitionedNeighborhood or torch.sparse
        Consecutive factors: the source rank of each is the target rank of the next.
        Torch sparse factors (one device) go through the cached CSR product.
    """

    def __init__(self, factors) -> None:
        self.factors = tuple(factors)
        for left, right in zip(self.factors, self.factors[1:]):
            left_source = left.ranks[1] if getattr(left, "ranks", None) else None
            right_target = right.ranks[0] if getattr(right, "ranks", None) else None
            if left.shape[1] != right.shape[0] or left_source != right_target:
                raise ValueError(
                    f"cannot chain {left!r} @ {right!r}: the first maps from rank {left_source} "
                    f"({left.shape[1]} cells here), the second to rank {right_target} ({right.shape[0]} cells here)."
                )

    @property
    def shape(self) -> torch.Size:
        """``(n_owned_targets of the first factor, n_owned_sources of the last)``."""
        return torch.Size((self.factors[0].shape[0], self.factors[-1].shape[1]))

    @property
    def group(self):
        """The process group of the parts."""
        return self.factors[0].group

    def __repr__(self) -> str:
        return "NeighborhoodChain(" + " @ ".join(repr(factor) for factor in self.factors) + ")"

    def to(self, device) -> "NeighborhoodChain":
        """The same product, its factors on ``device``."""
        return NeighborhoodChain(factor.to(device) for factor in self.factors)

    def row_sums(self) -> torch.Tensor:
        """``sum_j (N_1 ... N_m)[i, j]`` for every owned target row: the chain applied to ones, shape = (n,)."""
        last = self.factors[-1]
        ones = torch.ones(last.shape[1], 1, dtype=last.dtype, device=last.device)
        return (self @ ones).squeeze(-1)

    def __matmul__(self, other):
        if isinstance(other, torch.Tensor):
            for factor in reversed(self.factors):
                other = neighborhood_matmul(factor, other)
            return other
        right = other.factors if isinstance(other, NeighborhoodChain) else (other,)
        return NeighborhoodChain(self.factors + right)

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.sparse.mm, torch.mm, torch.matmul, torch.spmm) and isinstance(args[0], cls):
            return args[0] @ args[1]
        if func in (torch.sparse.sum, torch._sparse_sum) and isinstance(args[0], cls):
            dim = args[1] if len(args) > 1 else (kwargs or {}).get("dim")
            if dim in (1, -1, (1,), (-1,)):
                return args[0].row_sums()
        name = getattr(func, "__name__", str(func))
        raise TypeError(
            f"torch.{name} is not supported on a product of partitioned neighborhoods; "
            "supported: (N1 @ N2) @ x, torch.sparse.mm, torch.mm, torch.matmul, torch.sparse.sum(N, dim=1). "
            "Layers that read a neighborhood's entries (Conv, MessagePassing, attention) need it assembled: "
            "partition the product itself (data.init_args.laplacians: assembled)."
        )
