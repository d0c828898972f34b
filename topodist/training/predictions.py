"""``topodist predict``: every rank's predictions gathered on rank 0 and written to one ``.npz`` file, atomically.

A task's ``predict_step`` returns a dict of tensors (or numpy arrays) whose
first entry is the index of each prediction: ``cells`` (global ids of the classified rank's cells,
:class:`~topodist.training.CellClassification`) or ``complexes`` (positions in
the dataset, :class:`~topodist.training.ComplexClassification`). Under DDP
each rank holds its own cells or complexes; :class:`PredictionWriter` gathers
them, sorts every array by that index and writes them once, so 1 and P ranks
write the same file. Read it with ``numpy.load``.
"""

import io
import os
from pathlib import Path

import numpy as np
import torch.distributed as dist
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.utilities import rank_zero_info

from topodist.data.files import write_atomically

__all__ = ["DEFAULT_PREDICTIONS_NAME", "PredictionWriter", "sorted_predictions"]

DEFAULT_PREDICTIONS_NAME = "predictions.npz"


def sorted_predictions(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate the parts' arrays and sort them by the index, the first entry.

    Parameters
    ----------
    parts : list of dict of str to numpy.ndarray
        One dict per batch and rank, with the same keys in the same order;
        every array has one row per prediction, shape = (n_predictions, ...).

    Returns
    -------
    dict of str to numpy.ndarray
        Each key's rows over all parts, in increasing order of the index.

    Raises
    ------
    ValueError
        When two parts predict the same index (the parts overlap).
    """
    keys = list(parts[0])
    merged = {key: np.concatenate([part[key] for part in parts]) for key in keys}
    index = merged[keys[0]]
    order = np.argsort(index, kind="stable")
    merged = {key: values[order] for key, values in merged.items()}
    repeated = np.flatnonzero(np.diff(merged[keys[0]]) == 0)
    if len(repeated):
        raise ValueError(f"{keys[0]} {merged[keys[0]][repeated[:5]].tolist()} are predicted by more than one part.")
    return merged


class PredictionWriter(BasePredictionWriter):
    """Write the predictions of all ranks to one ``.npz`` file, sorted by cell (or complex).

    Each batch's predictions go to the CPU as they come; at the end of the
    epoch rank 0 gathers every rank's, sorts them (:func:`sorted_predictions`)
    and writes the file atomically (a temporary file renamed into place).
    ``topodist predict`` adds one when the config has no prediction writer.

    Parameters
    ----------
    path : str, optional
        The file to write; by default ``predictions.npz`` in the trainer's log
        directory (``trainer.log_dir``: the CSV logger's version directory, W&B's
        ``save_dir``, or ``default_root_dir`` without a logger).
    """

    def __init__(self, path: str | None = None) -> None:
        super().__init__(write_interval="batch")
        self.path = path
        self._parts: list[dict[str, np.ndarray]] = []

    def on_predict_epoch_start(self, trainer, pl_module) -> None:
        self._parts = []

    def write_on_batch_end(
        self, trainer, pl_module, prediction, batch_indices, batch, batch_idx: int, dataloader_idx: int
    ) -> None:
        """Keep this batch's predictions on the CPU, as numpy arrays (a numpy array, e.g. of names, as it is)."""
        if not isinstance(prediction, dict) or not prediction:
            raise TypeError(
                f"{type(pl_module).__name__}.predict_step must return a dict of tensors whose first entry indexes "
                f"the predictions, got {type(prediction).__name__}."
            )
        self._parts.append({
            key: value if isinstance(value, np.ndarray) else value.detach().cpu().numpy()
            for key, value in prediction.items()
        })

    def destination(self, trainer) -> Path:
        """The file this writer writes (collective under DDP: ``trainer.log_dir`` broadcasts rank 0's)."""
        if self.path:
            return Path(self.path)
        return Path(trainer.log_dir or trainer.default_root_dir, DEFAULT_PREDICTIONS_NAME)

    def on_predict_epoch_end(self, trainer, pl_module) -> None:
        """Gather every rank's predictions on rank 0 and write them there (collective)."""
        path = self.destination(trainer)
        parts = self._parts
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            gathered = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
            dist.gather_object(parts, gathered, dst=0)
            parts = [part for rank_parts in gathered or [] for part in rank_parts]
        self._parts = []
        if trainer.global_rank != 0:
            return
        if not parts:
            raise ValueError("no rank predicted anything: the prediction loader had no batch.")
        merged = sorted_predictions(parts)
        buffer = io.BytesIO()
        np.savez(buffer, **merged)
        write_atomically(path, buffer.getvalue())
        index = next(iter(merged))
        rank_zero_info(f"wrote the predictions of {len(merged[index])} {index} to {os.fspath(path)}")

