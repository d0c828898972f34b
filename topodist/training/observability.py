r"""What a distributed run shows while it trains: the time split of every step, halo traffic, the partition.

:class:`StepTimings` is a Lightning callback that every topodist task adds (see
``TrainingTask.configure_callbacks``; ``log_timings_every_n_steps=0`` turns it off).
Each training step, every rank measures

- ``step``: the step's wall time (``on_train_batch_start`` to ``on_train_batch_end``:
  forward, backward, optimizer);
- ``halo``: time its halo exchanges were in flight, and ``halo_exposed``: the
  part of it spent waiting (not hidden behind the overlapped products);
- ``ddp_allreduce``: wall time with a DDP gradient bucket in flight (a
  communication hook times each bucket's all-reduce);
- ``compute``: the rest of the step, ``step - halo_exposed - ddp_allreduce``;
- ``data``: fetching the batch, before the step starts;
- halo bytes sent and received, in total and per neighborhood.

Every ``every_n_steps`` steps (10 by default; the task's
``log_timings_every_n_steps``) one ``all_gather`` of each rank's means per step
over those steps lets rank 0 log, through the trainer's logger (W&B, CSV,
TensorBoard, ...), the mean over ranks and the slowest rank's value of each
time (``perf/<name>_seconds/mean`` and ``/max``, ``perf/slowest_rank``), bytes
per step per rank (``halo/bytes_sent/rank_<r>``, ``halo/bytes_received/rank_<r>``)
and per neighborhood summed over ranks (``halo/bytes_sent/<neighborhood>``),
and ``comm_share``, the exposed communication share of the step, which the
progress bar shows beside the loss.

At the start of training the partition report goes to the logger once: the
per-part table (``partition/parts``: owned and halo cells per rank, nnz) and
the partition picture (``partition/picture``) on W&B; with other loggers the
picture is saved as ``partition.png`` in the trainer's log directory.
"""

import io
import time
from pathlib import Path

import torch
import torch.distributed as dist
from lightning.pytorch import Callback

from topodist.data.files import write_atomically

__all__ = ["StepTimings", "TIMES"]

TIMES = ("step", "compute", "halo", "halo_exposed", "ddp_allreduce", "data")


class StepTimings(Callback):
    """Log the per-step time split, halo traffic and the partition report (see the module docstring).

    Parameters
    ----------
    every_n_steps : int, default=10
        Gather and log every that many steps the means per step over them (and
        at the end of training what is left): one all-gather and one logger call
        per interval, which keeps the cost below 1% of a step.
    """

    def __init__(self, every_n_steps: int = 10) -> None:
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps={every_n_steps} must be at least 1.")
        self.every_n_steps = every_n_steps
        self._sums: list[float] | None = None
        self._steps = 0
        self._exchangers: list = []
        self._labels: list[str] = []
        self._bucket_intervals: list[tuple[float, float]] = []
        self._timing_ddp = False
        self._mark = 0.0
        self._step_start = 0.0
        self._data_seconds = 0.0
        self._before: list[float] = []

    # ------------------------------------------------------------------ setup
    def on_train_start(self, trainer, pl_module) -> None:
        self._exchangers = list(pl_module.halo_exchangers())
        labels = {label for exchanger in self._exchangers for label in exchanger.traffic}
        labels |= {name for name in getattr(pl_module, "partitioned_neighborhood_names", lambda: [])()}
        self._labels = sorted(labels)
        self._timing_ddp = self._register_ddp_hook(trainer)
        setup = torch.tensor([float(getattr(pl_module, "setup_seconds", 0.0))])
        gathered = _gather(setup, trainer)
        if trainer.logger is not None:
            trainer.logger.log_metrics(
                {"perf/setup_seconds/mean": float(gathered.mean()), "perf/setup_seconds/max": float(gathered.max())},
                step=trainer.global_step,
            )
        report = getattr(pl_module, "partition_report", None)
        if report is not None:
            _log_partition_report(trainer, report())

    def _register_ddp_hook(self, trainer) -> bool:
        model = getattr(trainer.strategy, "model", None)
        if not isinstance(model, torch.nn.parallel.DistributedDataParallel):
            return False
        from torch.distributed.algorithms.ddp_comm_hooks import default_hooks

        intervals = self._bucket_intervals

        def timed_allreduce(process_group, bucket):
            start = time.perf_counter()

            def finished(future):
                intervals.append((start, time.perf_counter()))
                return future.value()

            return default_hooks.allreduce_hook(process_group, bucket).then(finished)

        try:
            model.register_comm_hook(None, timed_allreduce)
        except RuntimeError:  # the user's strategy registered its own hook: keep it, time nothing
            return False
        return True

    # ------------------------------------------------------------------- steps
    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._mark = time.perf_counter()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        self._step_start = time.perf_counter()
        self._data_seconds = self._step_start - self._mark
        self._bucket_intervals.clear()
        self._before = self._counters()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        end = time.perf_counter()
        step = end - self._step_start
        counters = [now - before for now, before in zip(self._counters(), self._before, strict=True)]
        halo, halo_exposed, bytes_sent, bytes_received = counters[:4]
        ddp = _union_length(self._bucket_intervals, self._step_start, end)
        compute = max(step - halo_exposed - ddp, 0.0)
        values = [step, compute, halo, halo_exposed, ddp, self._data_seconds, bytes_sent, bytes_received, *counters[4:]]
        self._sums = values if self._sums is None else [a + b for a, b in zip(self._sums, values, strict=True)]
        self._steps += 1
        if self._steps >= self.every_n_steps:
            self._flush(trainer, pl_module, step_index=max(trainer.global_step - 1, 0))
        self._mark = time.perf_counter()

    def on_train_end(self, trainer, pl_module) -> None:
        if self._steps:
            self._flush(trainer, pl_module, step_index=max(trainer.global_step - 1, 0), progress_bar=False)

    def _flush(self, trainer, pl_module, step_index: int, progress_bar: bool = True) -> None:
        """Gather every rank's means over the last steps and log them (collective)."""
        local = torch.tensor(self._sums, dtype=torch.float64) / self._steps
        gathered = _gather(local, trainer)  # (world_size, n_values): each rank's mean per step
        self._sums, self._steps = None, 0
        metrics = {}
        for index, name in enumerate(TIMES):
            metrics[f"perf/{name}_seconds/mean"] = float(gathered[:, index].mean())
            metrics[f"perf/{name}_seconds/max"] = float(gathered[:, index].max())
        metrics["perf/slowest_rank"] = int(gathered[:, 0].argmax())
        for rank, row in enumerate(gathered):
            metrics[f"halo/bytes_sent/rank_{rank}"] = float(row[6])
            metrics[f"halo/bytes_received/rank_{rank}"] = float(row[7])
        for index, label in enumerate(self._labels):
            metrics[f"halo/bytes_sent/{label}"] = float(gathered[:, 8 + 2 * index].sum())
            metrics[f"halo/bytes_received/{label}"] = float(gathered[:, 9 + 2 * index].sum())
        exposed = metrics["perf/halo_exposed_seconds/mean"] + metrics["perf/ddp_allreduce_seconds/mean"]
        if progress_bar:
            share = exposed / max(metrics["perf/step_seconds/mean"], 1e-12)
            pl_module.log("comm_share", share, prog_bar=True, on_step=True, on_epoch=False, batch_size=1)
        if trainer.logger is not None:
            trainer.logger.log_metrics(metrics, step=step_index)

    def _counters(self) -> list[float]:
        totals = [0.0] * (4 + 2 * len(self._labels))
        for exchanger in self._exchangers:
            totals[0] += exchanger.total_seconds
            totals[1] += exchanger.exposed_seconds
            totals[2] += exchanger.bytes_sent
            totals[3] += exchanger.bytes_received
            for index, label in enumerate(self._labels):
                sent, received = exchanger.traffic.get(label, (0, 0))
                totals[4 + 2 * index] += sent
                totals[5 + 2 * index] += received
        return totals


def _gather(values: torch.Tensor, trainer) -> torch.Tensor:
    """Every rank's ``values`` stacked, shape = (world_size, ...); collective when there are several ranks."""
    values = values.reshape(1, -1) if values.dim() <= 1 else values
    if trainer.world_size == 1 or not dist.is_initialized():
        return values
    row = values[0].to(trainer.strategy.root_device)  # NCCL gathers GPU tensors only
    pieces = [torch.empty_like(row) for _ in range(trainer.world_size)]
    dist.all_gather(pieces, row.contiguous())
    return torch.stack(pieces).to(values.device)


def _union_length(intervals: list[tuple[float, float]], low: float, high: float) -> float:
    """Total length of the union of ``intervals`` clipped to ``[low, high]``."""
    total, reach = 0.0, low
    for start, end in sorted((max(s, low), min(e, high)) for s, e in intervals):
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total


def _log_partition_report(trainer, report: dict | None) -> None:
    """Rank 0 logs the per-part table and the picture (``report`` from ``partition_report``, a collective)."""
    from lightning.pytorch.loggers import WandbLogger

    if trainer.logger is None:
        return
    wandb = isinstance(trainer.logger, WandbLogger)
    log_dir = None if wandb else trainer.log_dir  # a collective under DDP: every rank asks
    if report is None or trainer.global_rank != 0:
        return
    if wandb:
        from PIL import Image

        trainer.logger.log_table(key="partition/parts", columns=report["columns"], data=report["rows"])
        trainer.logger.log_image(key="partition/picture", images=[Image.open(io.BytesIO(report["picture"]))])
    elif log_dir is not None:
        write_atomically(Path(log_dir) / "partition.png", report["picture"])
