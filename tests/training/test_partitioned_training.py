"""Full-batch training on a partitioned complex under Lightning's DDP equals training on one device."""

from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from tests.distributed.harness import run_on_ranks
from tests.training.fitting import fit_metrics
from tests.training.node_model import NodeEdgeNode
from topodist.training import CellClassification, CellRegression, PartitionedComplexData, PartitionSettings

SOURCE = "torus:12x8"


def train(devices: int, save_dir: Path, method: str = "metis", shard_dir: str | None = None) -> list[dict]:
    pl.seed_everything(0, workers=True)
    module = CellClassification(NodeEdgeNode(in_channels=2), rank=0, lr=0.05)
    data = PartitionedComplexData(SOURCE, partition=PartitionSettings(method=method, shard_dir=shard_dir))
    strategy = "ddp_spawn" if devices > 1 else "auto"
    return fit_metrics(module, data, save_dir, accelerator="cpu", devices=devices, strategy=strategy, deterministic=True)


def by_step(rows: list[dict], key: str) -> list[float]:
    return [float(row[key]) for row in rows if row.get(key)]


@pytest.mark.parametrize(("devices", "method", "with_shards"), [(3, "metis", False), (2, "random", True)])
def test_per_step_loss_and_accuracy_equal_one_device(tmp_path, devices, method, with_shards):
    single = train(1, tmp_path / "single")
    shard_dir = str(tmp_path / "shards") if with_shards else None
    distributed = train(devices, tmp_path / "ddp", method, shard_dir)
    single_loss, distributed_loss = by_step(single, "train/loss"), by_step(distributed, "train/loss")
    assert len(single_loss) == len(distributed_loss) == 5
    for one, many in zip(single_loss, distributed_loss, strict=True):
        assert abs(one - many) <= 1e-4 * abs(one)
    assert single_loss[-1] < single_loss[0]  # it learns
    assert by_step(single, "val/accuracy") == pytest.approx(by_step(distributed, "val/accuracy"))
    if with_shards:
        assert sorted(p.name for p in (tmp_path / "shards").iterdir())[0] == "manifest.json"


def check_metric_of_a_part_without_cells(rank, world_size):
    """Rank 0 owns no cell of the split: its metric updates with nothing and computes the other ranks' value."""
    predictions, targets = torch.tensor([0, 1, 1, 0]), torch.tensor([0, 1, 0, 0])
    if rank == 0:
        predictions, targets = predictions[:0], targets[:0]
    accuracy = CellClassification(NodeEdgeNode(), rank=0)._metric()
    accuracy.update(predictions, targets)
    assert accuracy.compute() == 0.75  # under the suite's warning filters: an update that did not count would warn
    squared_error = CellRegression(NodeEdgeNode(n_classes=1), rank=0)._metric()
    squared_error.update(predictions.float(), targets.float())
    assert squared_error.compute() == 0.25


def test_a_part_without_cells_of_a_split_takes_part_in_its_metric():
    run_on_ranks(check_metric_of_a_part_without_cells, 2)


class RecordsChecks(CellClassification):
    """Logs, each training step, whether its halo exchanges agree on shapes across ranks first."""

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        checking = [exchanger.validate for exchanger in self.halo_exchangers()]
        assert checking and len(set(checking)) == 1, "every exchanger of a rank checks, or none"
        self.log("checks_exchanges", float(checking[0]), on_step=True, on_epoch=False, batch_size=1)
        return super().training_step(batch, batch_idx)


@pytest.mark.parametrize(("check_exchanges", "expected"), [("first_step", [1.0, 0.0, 0.0]), ("every_step", [1.0] * 3)])
def test_exchange_shapes_are_agreed_in_the_first_step_only_unless_asked_for_every_step(
    tmp_path, check_exchanges, expected
):
    pl.seed_everything(0, workers=True)
    module = RecordsChecks(NodeEdgeNode(in_channels=2), rank=0, lr=0.05, check_exchanges=check_exchanges)
    data = PartitionedComplexData(SOURCE, partition=PartitionSettings(method="metis"))
    rows = fit_metrics(module, data, tmp_path, steps=3, accelerator="cpu", devices=2, strategy="ddp_spawn")
    assert by_step(rows, "checks_exchanges") == expected


def test_an_unknown_check_exchanges_is_named():
    with pytest.raises(ValueError, match="check_exchanges='sometimes'"):
        CellClassification(NodeEdgeNode(in_channels=2), check_exchanges="sometimes")
