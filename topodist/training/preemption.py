"""Stop cleanly on SIGTERM or SIGUSR1: every rank stops after the same step, with a checkpoint to resume from.

A signal handler must not run collectives (the signal lands between or inside
other collectives, and ranks can hang). :class:`Preemption`'s handler only
sets a flag. After every training step the ranks all-reduce their flags (one
integer), so when any rank was signalled, all of them ask the trainer to stop
after this step; the epoch ends as usual, ``ModelCheckpoint`` writes
``last.ckpt``, and ``topodist fit`` exits with ``128 + signal`` (143 for
SIGTERM) so that a scheduler sees the job as interrupted. ``--ckpt_path last``
then resumes to the weights an uninterrupted run ends with.

SIGUSR1 is taken only when nothing else handles it: under SLURM with
Lightning's auto-requeue, Lightning keeps it (``slurm/README.md``).
"""

import signal

import torch
import torch.distributed as dist
from lightning.pytorch import Callback

__all__ = ["Preemption", "preempted_by"]

SIGNALS = (signal.SIGTERM, signal.SIGUSR1)

_received: list[int] = []  # signals this process received (module-level: the CLI reads it after fit)


def preempted_by() -> int | None:
    """The signal that stopped the last fit of this process, or ``None``."""
    return _received[0] if _received else None


def _flag(signum, frame) -> None:
    _received.append(int(signum))


class Preemption(Callback):
    """Stop every rank after the same step when any rank gets SIGTERM (or an unhandled SIGUSR1)."""

    def __init__(self) -> None:
        self._previous: dict[int, object] = {}

    def on_train_start(self, trainer, pl_module) -> None:
        _received.clear()
        for signum in SIGNALS:
            current = signal.getsignal(signum)
            if signum == signal.SIGUSR1 and current not in (signal.SIG_DFL, None):
                continue  # e.g. Lightning's SLURM requeue handler
            self._previous[signum] = current
            signal.signal(signum, _flag)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        signum = torch.tensor([_received[0] if _received else 0], dtype=torch.int64, device=pl_module.device)
        if dist.is_initialized() and trainer.world_size > 1:
            dist.all_reduce(signum, op=dist.ReduceOp.MAX)
        if signum.item() > 0:
            if not _received:
                _received.append(int(signum.item()))  # another rank was signalled: stop and exit as it does
            trainer.should_stop = True

    def on_train_end(self, trainer, pl_module) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()
