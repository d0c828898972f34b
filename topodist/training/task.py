r"""What every topodist LightningModule shares: global sums over ranks, the scaled loss, the optimizer.

Exactness under DDP: DDP averages gradients over the P ranks, so a rank whose
share of the step's loss is :math:`\sum_{i \in \text{rank}} \ell_i` minimises
that sum times :math:`P / N`, :math:`N` being the number of terms over all
ranks; the average of the ranks' gradients is then the gradient of the
one-process mean loss, however unevenly the terms are shared.
"""

import torch
import torch.distributed as dist
from lightning.fabric.utilities.seed import reset_seed
from lightning.pytorch import LightningModule

from topodist.distributed.shutdown import release_process_group_at_exit

__all__ = ["TrainingTask"]


class TrainingTask(LightningModule):
    """Base of the topodist tasks; subclasses set ``self.network`` and save ``lr`` and ``weight_decay``."""

    def setup(self, stage: str) -> None:
        """Have a multi-process run destroy its process group at exit (:mod:`topodist.distributed.shutdown`).

        Lightning destroys NCCL groups at exit but not gloo's; left to interpreter
        finalization, a gloo group aborts a rank now and then after the run is done.
        Subclasses call this first.
        """
        if dist.is_available() and dist.is_initialized():
            release_process_group_at_exit()

    def global_sum(self, value: torch.Tensor) -> torch.Tensor:
        """``value`` summed over the trainer's ranks (float64, detached; the value itself on one process)."""
        value = value.detach().to(torch.float64).clone()
        if dist.is_initialized() and self.trainer.world_size > 1:
            dist.all_reduce(value)
        return value

    def training_loss(self, loss_sum: torch.Tensor, count: torch.Tensor, batch_size: int) -> torch.Tensor:
        """Log the global mean loss as ``train/loss`` and return this rank's scaled share.

        Parameters
        ----------
        loss_sum : torch.Tensor
            Sum of this rank's loss terms.
        count : torch.Tensor
            Number of terms over all ranks (:meth:`global_sum`).
        batch_size : int
            For Lightning's logging.
        """
        world_size = self.trainer.world_size
        self.log("train/loss", loss_sum.detach() / count, reduce_fx="sum", sync_dist=world_size > 1,
                 on_step=True, on_epoch=False, prog_bar=True, batch_size=batch_size)
        return loss_sum * world_size / count

    def on_train_start(self) -> None:
        """Re-seed torch from the run's seed, or restore the generator of the checkpoint training resumes from.

        Lightning re-seeds when it sets up DDP but not on a single device, and
        evaluation and data loading draw in between: without this, dropout masks
        (:class:`~topodist.ops.dropout.CellDropout`) would depend on the launch mode.
        A resumed run continues the interrupted run's stream instead, so it draws
        what the uninterrupted run would have drawn.
        """
        state = getattr(self, "_resumed_rng_state", None)
        if state is None:
            reset_seed()
        else:
            torch.set_rng_state(state)
            self._resumed_rng_state = None

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Keep torch's generator state (a plain tensor: loads with ``weights_only=True``)."""
        checkpoint["topodist_rng_state"] = torch.get_rng_state()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Remember the checkpoint's generator state; :meth:`on_train_start` restores it."""
        self._resumed_rng_state = checkpoint.get("topodist_rng_state")

    def configure_callbacks(self) -> list:
        """:class:`~topodist.training.preemption.Preemption`, and :class:`~topodist.training.observability.StepTimings`
        unless ``log_timings_every_n_steps=0``."""
        from topodist.training.observability import StepTimings
        from topodist.training.preemption import Preemption

        every = int(self.hparams.get("log_timings_every_n_steps", 10))
        return [Preemption()] + ([StepTimings(every_n_steps=every)] if every > 0 else [])

    def halo_exchangers(self) -> list:
        """The halo exchangers of this rank's partitioned neighborhoods (none without a partition)."""
        return []

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
