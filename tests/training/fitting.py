"""Fit a module in this process for a few steps and read back what the CSV logger wrote."""

import csv
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.loggers import CSVLogger


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
        **trainer_arguments,
    )
    trainer.fit(module, datamodule=data)
    (metrics,) = Path(save_dir, "run").glob("version_*/metrics.csv")
    with open(metrics) as handle:
        return list(csv.DictReader(handle))
