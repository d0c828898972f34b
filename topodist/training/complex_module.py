r"""Complex-level classification, data parallel under Lightning's DDP.

Each rank holds a share of every batch (:mod:`topodist.training.complex_data`).
Rank :math:`r` minimises :math:`\mathcal{L}_r = \frac{P}{B} \sum_{c \in
\text{batch}_r} \ell_c`, :math:`B` being the number of complexes in the step
over all ranks, so DDP's gradient average is the gradient of the mean loss
over the whole step, even when the ranks' shares differ in size.
"""

import numpy as np
import torch

from topodist.training.task import TrainingTask
from topodist.training.validation import check_complex_labels, classes_of

__all__ = ["ComplexClassification"]


class ComplexClassification(TrainingTask):
    """Classify whole complexes.

    Parameters
    ----------
    network : torch.nn.Module
        ``network(x, neighborhoods, batch, n_complexes) -> logits``, e.g. a
        :class:`~topodist.training.heads.ComplexClassifier`.
    lr : float, default=0.01
    weight_decay : float, default=0.0
    log_timings_every_n_steps : int, default=10
        Log the per-step time split (means over that many steps; see
        :mod:`topodist.training.observability`); 0 turns it off.
    """

    def __init__(
        self, network: torch.nn.Module, lr: float = 0.01, weight_decay: float = 0.0, log_timings_every_n_steps: int = 10
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["network"])
        self.network = network
        self._tallies: dict[str, torch.Tensor] = {}

    def setup(self, stage: str) -> None:
        super().setup(stage)
        data = self.trainer.datamodule
        data.partition(list(getattr(self.network, "neighborhoods", [])))
        n_classes = classes_of(self.network, "ComplexClassification")
        check_complex_labels(data.complexes, n_classes, f"data.source={data.source!r}")

    def _logits(self, batch) -> torch.Tensor:
        rank = getattr(self.network, "rank", 0)
        return self.network(batch.x, batch.neighborhoods, batch.batch[rank], batch.n_complexes)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        loss_sum = torch.nn.functional.cross_entropy(self._logits(batch), batch.labels, reduction="sum")
        count = self.global_sum(torch.tensor(batch.n_complexes, device=self.device))
        return self.training_loss(loss_sum, count, batch_size=batch.n_complexes)

    def _evaluate(self, batch, split: str) -> None:
        logits = self._logits(batch)
        loss_sum = torch.nn.functional.cross_entropy(logits, batch.labels, reduction="sum").detach()
        correct = (logits.argmax(dim=-1) == batch.labels).sum()
        count = torch.tensor(float(batch.n_complexes), device=loss_sum.device)
        tally = torch.stack([loss_sum.double(), correct.double(), count])
        self._tallies[split] = self._tallies.get(split, 0) + tally.cpu()

    def _finish(self, split: str) -> None:
        """Sum loss, correct and count over batches and ranks (ranks may hold different numbers of batches)."""
        tally = self._tallies.pop(split, torch.zeros(3, dtype=torch.float64)).to(self.device)
        tally = self.global_sum(tally)
        if tally[2] > 0:
            # already global and equal on every rank; sync_dist averages equal numbers
            self.log(f"{split}/loss", tally[0] / tally[2], sync_dist=True)
            self.log(f"{split}/accuracy", tally[1] / tally[2], prog_bar=True, sync_dist=True)

    def on_validation_epoch_start(self) -> None:
        self._tallies = {}

    def validation_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def on_validation_epoch_end(self) -> None:
        self._finish("val")

    def on_test_epoch_start(self) -> None:
        self._tallies = {}

    def test_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def on_test_epoch_end(self) -> None:
        self._finish("test")

    def predict_step(self, batch, batch_idx: int) -> dict[str, torch.Tensor]:
        """This rank's share of the batch, indexed by dataset position (see :mod:`topodist.training.predictions`).

        Returns
        -------
        dict of str to torch.Tensor or numpy.ndarray
            ``complexes``, shape = (n_complexes,): positions in the dataset;
            ``predictions``, shape = (n_complexes,): the class;
            ``outputs``, shape = (n_complexes, n_classes): the logits;
            ``names``, shape = (n_complexes,): the complexes' names (``class/item``
            for a directory of class folders), a numpy array of strings.
        """
        logits = self._logits(batch).detach()
        complexes = self.trainer.datamodule.complexes
        names = np.array([complexes[position].name for position in batch.index.tolist()], dtype=str)
        return {"complexes": batch.index, "predictions": logits.argmax(dim=-1), "outputs": logits, "names": names}
