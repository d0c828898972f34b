"""``topodist fit|validate|test|predict``: LightningCLI over topodist's modules and data modules.

``model`` and ``data`` take a ``class_path``: :class:`~topodist.training.CellClassification`
with :class:`~topodist.training.PartitionedComplexData` (one large complex,
partitioned), or :class:`~topodist.training.ComplexClassification` with
:class:`~topodist.training.ComplexDatasetData` (many small complexes, data parallel).

Configs are Lightning's YAML (``--config configs/X.yaml``, overrides such as
``--trainer.devices 2`` or ``--data.method random``, ``--print_config``).
Defaults that full-batch partitioned training needs are set here:
``use_distributed_sampler=False``, and the W&B logger, offline unless a W&B
API key is configured (``WANDB_API_KEY`` or ``wandb login``), logging from
rank 0 only as Lightning's loggers do. ``predict`` writes every rank's
predictions to one file (:mod:`topodist.training.predictions`).
"""

import datetime
import os
import signal
import sys
import warnings

from lightning.pytorch import Callback, LightningDataModule, LightningModule
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.cli import LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import Logger, WandbLogger
from lightning.pytorch.strategies import DDPStrategy
from torch.distributed.constants import default_pg_timeout

from topodist.training.predictions import PredictionWriter
from topodist.training.preemption import preempted_by

__all__ = ["prepare_training_shards", "run_training_cli"]


def _wandb_logger() -> dict:
    online = bool(os.environ.get("WANDB_API_KEY")) or os.path.exists(os.path.expanduser("~/.netrc"))
    return {
        "class_path": "lightning.pytorch.loggers.WandbLogger",
        "init_args": {"project": "topodist", "save_dir": "runs", "offline": not online},
    }


class LoggedConfig(SaveConfigCallback):
    """Save the resolved config beside the run, and log it once to the run's logger (W&B, CSV, ...)."""

    def save_config(self, trainer, pl_module, stage: str) -> None:
        if isinstance(trainer.logger, Logger):
            trainer.logger.log_hyperparams({"config": self.parser.dump(self.config, skip_unset=False)})


COLLECTIVE_TIMEOUT_ENV = "TOPODIST_COLLECTIVE_TIMEOUT"
DEFAULT_COLLECTIVE_TIMEOUT_S = 120.0


def collective_timeout() -> datetime.timedelta:
    """How long a collective waits for a silent peer before failing: ``$TOPODIST_COLLECTIVE_TIMEOUT`` seconds (120)."""
    value = os.environ.get(COLLECTIVE_TIMEOUT_ENV, str(DEFAULT_COLLECTIVE_TIMEOUT_S))
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"{COLLECTIVE_TIMEOUT_ENV}={value!r}: give a number of seconds.") from None
    if seconds <= 0:
        raise ValueError(f"{COLLECTIVE_TIMEOUT_ENV}={value!r}: give a positive number of seconds.")
    return datetime.timedelta(seconds=seconds)


def apply_collective_timeout(strategy) -> None:
    """Give a DDP strategy topodist's collective timeout, unless its config set one.

    Lightning's default (torch's, 30 minutes) leaves the surviving ranks of a
    crashed peer waiting that long in a collective that can never finish.
    """
    if isinstance(strategy, DDPStrategy) and strategy._timeout == default_pg_timeout:
        strategy._timeout = collective_timeout()


def create_wandb_save_dirs(loggers: list[Logger]) -> None:
    """Create the save directory of each W&B logger before W&B starts.

    W&B looks for a git repository in that directory when it starts, and
    warns "git root runs does not exist" in a fresh working directory.

    Parameters
    ----------
    loggers : list of lightning.pytorch.loggers.Logger
        The trainer's loggers; those that are not W&B's are left alone.
    """
    for logger in loggers:
        if isinstance(logger, WandbLogger) and logger.save_dir:
            os.makedirs(logger.save_dir, exist_ok=True)


def add_prediction_writer(callbacks: list[Callback]) -> None:
    """Append a :class:`~topodist.training.predictions.PredictionWriter` unless ``callbacks`` write predictions.

    Lightning's predict keeps each rank's predictions in that rank's memory;
    without a writer, ``topodist predict`` would compute them and leave nothing.

    Parameters
    ----------
    callbacks : list of lightning.pytorch.Callback
        The trainer's callbacks, changed in place.
    """
    if not any(isinstance(callback, BasePredictionWriter) for callback in callbacks):
        callbacks.append(PredictionWriter())


class TopodistCLI(LightningCLI):
    """LightningCLI with topodist's collective timeout on the trainer's DDP strategy, W&B's directory made,
    and a prediction writer for ``predict``."""

    def instantiate_trainer(self, **kwargs):
        trainer = super().instantiate_trainer(**kwargs)
        apply_collective_timeout(trainer.strategy)
        create_wandb_save_dirs(trainer.loggers)
        if self.subcommand == "predict":
            add_prediction_writer(trainer.callbacks)
        return trainer


def quiet_lightning_torch_deprecation() -> None:
    """Hide the deprecation that Lightning 2.6's pytree helper raises under torch 2.13, and only that one.

    Every rank printed it at every fit, test and predict; it concerns
    Lightning's call into torch, and nothing in a topodist run or config
    changes it.
    """
    warnings.filterwarnings(
        "ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated", category=FutureWarning,
        module=r"lightning\.pytorch\.utilities\._pytree",
    )


def run_training_cli(argv: list[str] | None = None) -> None:
    """Run a LightningCLI subcommand (``fit``, ``validate``, ``test``, ``predict``).

    Parameters
    ----------
    argv : list of str, optional
        Arguments after ``topodist``; ``sys.argv[1:]`` when omitted.
    """
    quiet_lightning_torch_deprecation()
    TopodistCLI(
        LightningModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        args=argv,
        trainer_defaults={
            "use_distributed_sampler": False,
            "logger": _wandb_logger(),
            # atomic checkpoint files with a sha256 record, loaded with weights_only=True
            "plugins": [{"class_path": "topodist.training.checkpoints.VerifiedCheckpointIO"}],
            # torch cannot transpose a sparse tensor under inference_mode (TopoModelX models call
            # incidence.T in forward); no_grad evaluates the same.
            "inference_mode": False,
        },
        seed_everything_default=0,
        save_config_callback=LoggedConfig,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"prog": "topodist"},
    )
    signum = preempted_by()
    if signum is not None:
        name = signal.Signals(signum).name
        print(
            f"topodist: stopped by {name} after a complete step; last.ckpt holds it. Resume with --ckpt_path last.",
            file=sys.stderr,
        )
        raise SystemExit(128 + signum)


class _GivenArgumentsCLI(LightningCLI):
    """LightningCLI that parses the arguments it is given and nothing else.

    ``topodist shards`` gives it arguments made from its own command line, so
    Lightning's warning against ``args`` beside a command line does not apply.
    """

    def parse_arguments(self, parser, args) -> None:
        self.config = parser.parse_args(args)


def prepare_training_shards(config_arguments: list[str], world_size: int) -> tuple[str, bool]:
    """Write the shards that ``topodist fit`` with these arguments on ``world_size`` ranks will read.

    Parameters
    ----------
    config_arguments : list of str
        ``--config FILE`` and any overrides, as for ``topodist fit``; the data
        module needs ``partition.shard_dir``.
    world_size : int
        Number of ranks of the training run (nodes times tasks per node).

    Returns
    -------
    shard_dir : str
    reused : bool
    """
    cli = _GivenArgumentsCLI(
        LightningModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        args=[*config_arguments, "--trainer.logger", "false", "--trainer.devices", "1", "--trainer.num_nodes", "1"],
        run=False,
        trainer_defaults={"use_distributed_sampler": False, "inference_mode": False},
        seed_everything_default=0,
        save_config_callback=None,
        parser_kwargs={"prog": "topodist shards"},
    )
    data = cli.datamodule
    if not hasattr(data, "prepare_shards"):
        raise ValueError(f"{type(data).__name__} has no shards to prepare: only one partitioned complex has.")
    _, reused = data.prepare_shards(list(getattr(cli.model.network, "neighborhoods", [])), world_size)
    return data.partition_settings.shard_dir, reused
