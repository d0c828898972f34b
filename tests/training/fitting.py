"""Fit a module in this process for a few steps and read back what the CSV logger wrote."""

import csv
import warnings
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.loggers import CSVLogger

from topodist.distributed.shutdown import release_process_group_at_exit


class WarningFilters(pl.Callback):
    """Set the warning filters of the test that fits in every rank, which ``ddp_spawn`` starts without them."""

    def __init__(self):
        self.filters = list(warnings.filters)

    def setup(self, trainer, pl_module, stage: str) -> None:
        warnings.filters[:] = self.filters


class ReleaseProcessGroupAtExit(pl.Callback):
    """In every rank, destroy the process group before the interpreter exits, as topodist's own modules do.

    A module that is not topodist's (Lightning's ``BoringModel``) leaves the group to interpreter finalization,
    where its backend's threads can abort the rank after its work is done (``topodist.distributed.shutdown``).
    """

    def setup(self, trainer, pl_module, stage: str) -> None:
        release_process_group_at_exit()


def fit_metrics(module, data, save_dir: Path, steps: int = 5, **trainer_arguments) -> list[dict]:
    """Rows of ``metrics.csv`` after ``steps`` steps of ``Trainer(**trainer_arguments).fit``, quietly."""
    trainer = pl.Trainer(
        max_steps=steps,
        logger=CSVLogger(save_dir, name="run"),
        log_every_n_steps=1,
        use_distributed_sampler=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[WarningFilters(), ReleaseProcessGroupAtExit()],
        **trainer_arguments,
    )
    trainer.fit(module, datamodule=data)
    (metrics,) = Path(save_dir, "run").glob("version_*/metrics.csv")
    with open(metrics) as handle:
        return list(csv.DictReader(handle))
