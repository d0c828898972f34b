"""Ranks that ``fit_metrics`` spawns run under the warning filters of the test that fits, as its own process does."""

import warnings

import pytest
from lightning.pytorch.demos.boring_classes import BoringDataModule, BoringModel

from tests.training.fitting import fit_metrics


class WarnsOnRank1(BoringModel):
    def training_step(self, batch, batch_idx):
        if self.global_rank == 1:
            warnings.warn("a warning on rank 1", UserWarning, stacklevel=1)
        step = super().training_step(batch, batch_idx)
        self.log("train/loss", step["loss"], sync_dist=True)  # fit_metrics reads what the logger wrote
        return step


def fit_on_two_ranks(save_dir) -> list[dict]:
    return fit_metrics(WarnsOnRank1(), BoringDataModule(), save_dir, steps=1, accelerator="cpu", devices=2,
                strategy="ddp_spawn")


def test_a_warning_on_a_spawned_rank_fails_the_test(tmp_path):
    with pytest.raises(Exception, match="UserWarning: a warning on rank 1"):
        fit_on_two_ranks(tmp_path)


@pytest.mark.filterwarnings("ignore:a warning on rank 1:UserWarning")
def test_a_warning_the_test_ignores_is_ignored_on_its_ranks(tmp_path):
    assert [row["step"] for row in fit_on_two_ranks(tmp_path) if row.get("train/loss")] == ["0"]
