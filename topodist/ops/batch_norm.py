r"""Batch normalization over all the cells of a rank, however many parts hold them.

``torch.nn.BatchNorm1d`` takes its statistics over the rows it is given: on a
part, over that part's cells only. :class:`CellBatchNorm` sums over the cells
of every part with :func:`~topodist.distributed.readout.global_pool` (a
differentiable all-reduce when the neighborhood it is given is partitioned, a
local sum otherwise), so a partitioned run normalizes, learns and updates its
running statistics exactly as one device does. Its parameters and buffers are
``BatchNorm1d``'s: state_dicts load both ways.
"""

import torch

from topodist.distributed.readout import global_pool

__all__ = ["CellBatchNorm"]


class CellBatchNorm(torch.nn.BatchNorm1d):
    """``torch.nn.BatchNorm1d`` over cells, with statistics over every part.

    Parameters
    ----------
    num_features : int
    eps : float, default=1e-5
    momentum : float or None, default=0.1
    affine : bool, default=True
    track_running_stats : bool, default=True

    Notes
    -----
    Call as ``norm(x, over=neighborhood)`` with a neighborhood whose target
    cells are ``x``'s rows; without ``over`` it is ``BatchNorm1d``.
    """

    def forward(self, x: torch.Tensor, over=None) -> torch.Tensor:
        """Normalize.

        Parameters
        ----------
        x : torch.Tensor, shape = (n_cells, num_features)
        over : torch.sparse or PartitionedNeighborhood, optional

        Returns
        -------
        torch.Tensor, shape = (n_cells, num_features)
        """
        if x.dim() != 2:
            raise ValueError(f"CellBatchNorm expects (n_cells, num_features) features, got shape {tuple(x.shape)}.")
        use_batch = self.training or not self.track_running_stats
        if not use_batch:
            mean, var = self.running_mean, self.running_var
        else:
            count = global_pool(x.new_ones(x.shape[0], 1), "sum", over=over).detach()
            if count.item() < 2 and self.training:
                raise ValueError(
                    f"Expected more than 1 cell in training to compute batch statistics, got {int(count.item())}."
                )
            mean = global_pool(x, "sum", over=over) / count
            var = global_pool((x - mean) ** 2, "sum", over=over) / count
            if self.training and self.track_running_stats:
                self._update_running_stats(mean.detach(), var.detach(), count)
        y = (x - mean) / torch.sqrt(var + self.eps)
        return y * self.weight + self.bias if self.affine else y

    @torch.no_grad()
    def _update_running_stats(self, mean: torch.Tensor, var: torch.Tensor, count: torch.Tensor) -> None:
        self.num_batches_tracked += 1
        momentum = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        unbiased = var * count / (count - 1)
        self.running_mean.mul_(1 - momentum).add_(momentum * mean)
        self.running_var.mul_(1 - momentum).add_(momentum * unbiased)
