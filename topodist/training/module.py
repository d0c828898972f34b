r"""Cell classification on one partitioned complex, full batch, under Lightning's DDP.

The model is any ``torch.nn.Module`` called as ``model(x, neighborhoods)`` with
``x`` a dict rank -> features and ``neighborhoods`` a dict name -> neighborhood,
returning a dict rank -> outputs; it runs unchanged on the whole complex (one
process) or on this rank's part (partitioned neighborhoods, owned features).

Exactness under DDP: DDP averages gradients over the P ranks, so rank
:math:`r` minimises

.. math::
    \mathcal{L}_r = \frac{P}{N} \sum_{i \in \text{owned}_r \cap \text{train}} \ell_i ,

:math:`N` being the number of training cells over all ranks; the average of
the ranks' gradients is then the gradient of the single-device mean loss.
Logged ``train/loss`` is that mean loss; ``val/`` and ``test/`` metrics are
torchmetrics whose states are summed over ranks.
"""

import time
from typing import Literal

import numpy as np
import torch
import torch.distributed as dist
import torchmetrics
from lightning.fabric.utilities.apply_func import move_data_to_device

from topodist.distributed import PartitionedComplex
from topodist.partition.plot import MAX_DRAWN_FACES, render_partition
from topodist.partition.statistics import combine_statistics, part_statistics
from topodist.training.task import TrainingTask
from topodist.training.validation import check_features, check_labels_and_splits, classes_of

__all__ = ["CellClassification", "CellRegression"]

CHECK_EXCHANGES = ("first_step", "every_step")


class _OwnedCellsMetric:
    """An update with no target (a part that owns no cell of the split) counts as an update with nothing.

    torchmetrics warns when a metric is computed without an update, though its
    states, summed over ranks, are complete; and its classification metrics
    cannot update with no targets.
    """

    def update(self, predictions: torch.Tensor, targets: torch.Tensor) -> None:
        if targets.numel():
            super().update(predictions, targets)


class _Accuracy(_OwnedCellsMetric, torchmetrics.classification.MulticlassAccuracy):
    pass


class _MeanSquaredError(_OwnedCellsMetric, torchmetrics.MeanSquaredError):
    pass


class CellClassification(TrainingTask):
    """Classify the cells of one rank of a (partitioned) complex.

    Parameters
    ----------
    network : torch.nn.Module
        ``network(x, neighborhoods) -> {rank: logits}``, for example a
        :class:`~topodist.training.heads.CellClassifier`; its ``neighborhoods``
        attribute, when it has one, names what the data module partitions.
    rank : int, default=0
        The rank whose cells are classified.
    lr : float, default=0.01
        Adam learning rate.
    weight_decay : float, default=0.0
    log_timings_every_n_steps : int, default=10
        Log the per-step time split and halo traffic (means over that many steps)
        and the partition report (:mod:`topodist.training.observability`); 0 turns it off.
    check_exchanges : {"first_step", "every_step"}, default="first_step"
        When the ranks agree, before each halo exchange, on the shape and dtype
        of the features it sends (one small all-reduce, so that features that
        do not fit the partition raise on every rank instead of leaving the
        others waiting): during the first training step of a run, then no
        more, since every step of this full-batch job exchanges the same
        tensors (validate, test and predict runs check every step);
        ``"every_step"`` keeps checking (measured: 7-11% of a 1M-cell HSN step
        on 2 CPU ranks, BENCHMARKS.md).
    """

    def __init__(
        self,
        network: torch.nn.Module,
        rank: int = 0,
        lr: float = 0.01,
        weight_decay: float = 0.0,
        log_timings_every_n_steps: int = 10,
        check_exchanges: Literal["first_step", "every_step"] = "first_step",
    ) -> None:
        if check_exchanges not in CHECK_EXCHANGES:
            raise ValueError(f"check_exchanges={check_exchanges!r}: choose one of {CHECK_EXCHANGES}.")
        super().__init__()
        self.save_hyperparameters(ignore=["network"])
        self.network = network
        self.target_rank = rank
        self._inputs = None
        self._partitioned = None
        self.setup_seconds = 0.0

    # ----------------------------------------------------------------- inputs
    def setup(self, stage: str) -> None:
        super().setup(stage)
        if self._inputs is not None:
            return
        started = time.perf_counter()
        data = self.trainer.datamodule
        data.partition(list(getattr(self.network, "neighborhoods", [])))
        complex_ = data.complex
        if self.target_rank not in complex_.labels:
            raise ValueError(
                f"model.init_args.rank={self.target_rank}: the dataset {data.source!r} has labels on ranks "
                f"{sorted(complex_.labels)} only."
            )
        expected = getattr(self.network, "in_channels", {})
        for rank, width in expected.items():
            actual = complex_.features[rank].shape[-1] if rank in complex_.features else None
            if actual != width:
                raise ValueError(
                    f"model.init_args.network.init_args.in_channels[{rank}]={width}, but "
                    f"data.source={data.source!r} has "
                    f"{'no features' if actual is None else f'{actual} feature channels'} on rank {rank}."
                )
        # Lightning moves the module to its device after setup; the inputs go there now (the
        # collectives below need them there under NCCL)
        device = self.trainer.strategy.root_device
        if data.shard is None:
            features, labels, masks = move_data_to_device((complex_.features, complex_.labels, complex_.masks), device)
            neighborhoods = {name: data.neighborhood(name).to(device) for name in data.neighborhoods}
            cell_ids = {rank: torch.arange(n, device=device) for rank, n in enumerate(complex_.n_cells)}
        else:
            partitioned = self._partitioned = PartitionedComplex(data.shard, device=device)
            features, labels, masks = partitioned.features, partitioned.labels, partitioned.masks
            neighborhoods = {name: data.neighborhood(name, partitioned) for name in data.neighborhoods}
            cell_ids = {rank: torch.from_numpy(ids).to(device) for rank, ids in data.shard.owned_cells.items()}
        where = f"data.source={data.source!r}"
        x = {rank: features[rank].float() for rank in features}
        read = [rank for rank in (expected or x) if rank in x]  # the ranks the network reads
        dropped = check_features(x, cell_ids, self.global_sum, getattr(data, "nonfinite", "raise"), where, read)
        split_masks = {split: by_rank[self.target_rank] for split, by_rank in masks.items()}
        if self.target_rank in dropped:
            split_masks = {split: mask & ~dropped[self.target_rank] for split, mask in split_masks.items()}
        check_labels_and_splits(
            labels[self.target_rank], split_masks, cell_ids[self.target_rank], self._n_classes(), self.global_sum,
            stage, where,
        )
        self._inputs = {
            "x": x,
            "neighborhoods": neighborhoods,
            "labels": labels[self.target_rank],
            "masks": split_masks,
            # the cells a prediction is written for: every owned cell, but those whose features were dropped
            "predicted": cell_ids[self.target_rank],
            "predicted_mask": ~dropped[self.target_rank] if self.target_rank in dropped else None,
        }
        self._counts = {split: self.global_sum(mask.sum()) for split, mask in self._inputs["masks"].items()}
        # torchmetrics sum their states over ranks at epoch end: global, not averages of rank averages
        self.metrics = torch.nn.ModuleDict({split: self._metric() for split in ("val", "test")}).to(self.device)
        self.setup_seconds = time.perf_counter() - started
        if self.logger is not None:
            self.logger.log_hyperparams({"partition": self._partition_summary(data.shard)})

    def _partition_summary(self, shard) -> dict:
        """Halo cells and balance of the partition, from every rank's counts (collective)."""
        laplacians = {name: form.form for name, form in self.trainer.datamodule.product_forms.items()}
        if shard is None:
            return {"world_size": 1, "laplacians": laplacians}
        parts: list = [None] * shard.world_size
        dist.all_gather_object(parts, part_statistics(shard))
        statistics = combine_statistics(parts)
        return {
            "world_size": shard.world_size,
            "method": self.trainer.datamodule.partition_settings.method,
            "neighborhoods": list(shard.matrices),
            "laplacians": laplacians,
            "halo_cells": statistics["halo_cells"],
            "cell_imbalance": statistics["imbalance"]["cells"],
            "nnz_imbalance": statistics["imbalance"]["nnz"],
        }

    def halo_exchangers(self) -> list:
        """The exchangers of this rank's partitioned complex, one per source rank."""
        return [] if self._partitioned is None else list(self._partitioned.exchangers.values())

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        """After the first step, stop agreeing on exchange shapes unless ``check_exchanges="every_step"``.

        Every rank ends the same step here, so every rank stops before the same exchange.
        """
        if self.hparams.get("check_exchanges", "first_step") == "first_step":
            for exchanger in self.halo_exchangers():
                exchanger.validate = False

    def partitioned_neighborhood_names(self) -> list[str]:
        """Names of the partitioned neighborhoods, under which halo traffic is counted."""
        return [] if self._partitioned is None else self.trainer.datamodule.partitioned_names()

    def partition_report(self) -> dict | None:
        """The per-part table and the picture, on rank 0 (collective: every rank must call it).

        Returns
        -------
        dict or None
            ``{"columns", "rows", "picture"}`` on rank 0, None elsewhere and without a partition.
        """
        shard = self.trainer.datamodule.shard
        if shard is None:
            return None
        complex_ = self.trainer.datamodule.complex
        drawn = complex_.positions is not None and 2 in complex_.cells and len(complex_.cells[2]) <= MAX_DRAWN_FACES
        mine = {
            "statistics": part_statistics(shard),
            "owned": dict(shard.owned_cells) if drawn else {r: len(c) for r, c in shard.owned_cells.items()},
            "halo": {r: (p.halo_cells if drawn else p.n_halo) for r, p in shard.halo_plans.items()},
        }
        parts = [None] * shard.world_size if shard.part == 0 else None
        dist.gather_object(mine, parts, dst=0)
        if parts is None:
            return None
        statistics = combine_statistics([part["statistics"] for part in parts])
        n_ranks = len(statistics["halo_cells"])
        columns = ["part", *(f"cells r{r}" for r in range(n_ranks)), *(f"halo r{r}" for r in range(n_ranks)), "nnz"]
        rows = [[str(row["part"]), *row["cells"], *row["halo_cells"], row["nnz"]] for row in statistics["parts"]]
        imbalance = statistics["imbalance"]
        rows.append(["max/mean", *imbalance["cells"], *([None] * n_ranks), imbalance["nnz"]])

        def cells(value):  # counts stand in for the ids when only bars are drawn
            return value if drawn else np.zeros(value, dtype=np.int8)

        owned = [{r: cells(v) for r, v in part["owned"].items()} for part in parts]
        halo = [{r: cells(v) for r, v in part["halo"].items()} for part in parts]
        data = self.trainer.datamodule
        title = f"{data.source}: {data.partition_settings.method}, {shard.world_size} parts"
        return {"columns": columns, "rows": rows, "picture": render_partition(complex_, owned, halo, title)}

    def forward(self) -> torch.Tensor:
        """Logits of the target rank's (owned) cells, shape = (n_cells, n_classes)."""
        inputs = self._inputs
        return self.network(inputs["x"], inputs["neighborhoods"])[self.target_rank]

    # ------------------------------------------------------------------ steps
    metric_name = "accuracy"

    def _n_classes(self) -> int | None:
        """Number of classes labels must stay below (``None``: not known, only finiteness is checked)."""
        return classes_of(self.network, "CellClassification")

    def _metric(self) -> torchmetrics.Metric:
        # micro accuracy only counts correct predictions: the number of classes does not change it
        n_classes = max(int(getattr(self.network, "n_classes", 2)), 2)
        return _Accuracy(num_classes=n_classes, average="micro")

    def _loss_sum(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(outputs, targets.long(), reduction="sum")

    def _predictions(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.argmax(dim=-1)

    def _split_loss(self, split: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        outputs = self()
        mask, labels = self._inputs["masks"][split], self._inputs["labels"]
        return self._loss_sum(outputs[mask], labels[mask]), outputs[mask], labels[mask], self._counts[split]

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        loss_sum, _, _, count = self._split_loss("train")
        return self.training_loss(loss_sum, count, batch_size=1)

    def _evaluate(self, split: str) -> None:
        loss_sum, outputs, targets, count = self._split_loss(split)
        # already global (equal on every rank); sync_dist averages equal numbers
        self.log(f"{split}/loss", self.global_sum(loss_sum) / count, batch_size=1, sync_dist=True)
        self.metrics[split].update(self._predictions(outputs.detach()), targets)  # no targets: a part without cells
        self.log(f"{split}/{self.metric_name}", self.metrics[split], prog_bar=True, batch_size=1)

    def validation_step(self, batch, batch_idx: int) -> None:
        self._evaluate("val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._evaluate("test")

    def predict_step(self, batch, batch_idx: int) -> dict[str, torch.Tensor]:
        """This rank's predictions, indexed by global cell id (see :mod:`topodist.training.predictions`).

        Returns
        -------
        dict of str to torch.Tensor
            ``cells``, shape = (n_owned,): global ids of the owned cells of
            the classified rank, less those whose features were NaN or
            infinite (``nonfinite=skip``); ``predictions``, shape = (n_owned,):
            the class (the value, for regression); ``outputs``, shape =
            (n_owned, n_outputs): the logits (the value).
        """
        outputs = self().detach()
        cells, keep = self._inputs["predicted"], self._inputs["predicted_mask"]
        if keep is not None:
            cells, outputs = cells[keep], outputs[keep]
        return {"cells": cells, "predictions": self._predictions(outputs), "outputs": outputs}


class CellRegression(CellClassification):
    """Regress one value per cell of one rank: mean squared error loss, ``val/mse`` and ``test/mse``.

    The network's output has width 1 (``n_classes: 1`` for a
    :class:`~topodist.training.heads.CellClassifier`); labels are floats
    (``torus:60x30:1.0:0`` gives the clean field on nodes).
    """

    metric_name = "mse"

    def _n_classes(self) -> None:
        return None

    def _metric(self) -> torchmetrics.Metric:
        return _MeanSquaredError()

    def _loss_sum(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.mse_loss(outputs.squeeze(-1), targets.float(), reduction="sum")

    def _predictions(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.squeeze(-1)
