"""``--trainer.precision bf16-mixed``: partitioned training under Lightning's bfloat16 autocast on CPU ranks.

The halo exchange carries the bfloat16 features autocast produces (half the
bytes of float32), aggregation sums in float32, and the loss follows the
float32 run's to bfloat16 precision.
"""

import csv
from pathlib import Path

import pytest

from tests.training.test_cli import CONFIGS, CSV, losses, topodist_runs


def halo_bytes_received(save_dir: Path) -> list[float]:
    (metrics,) = save_dir.glob("**/metrics.csv")
    with open(metrics) as handle:
        rows = csv.DictReader(handle)
        return [float(row["halo/bytes_received/rank_0"]) for row in rows if row.get("halo/bytes_received/rank_0")]


# Lightning's model summary counts bytes in float32 under bf16-mixed, and says so.
@pytest.mark.filterwarnings("ignore:Precision bf16-mixed is not supported by the model summary:UserWarning")
def test_bf16_mixed_halves_the_halo_and_follows_the_float32_loss(tmp_path):
    started = {}
    for precision in ("32-true", "bf16-mixed"):
        cwd = tmp_path / precision
        cwd.mkdir()
        started[precision] = (cwd, [
            "fit", "--config", str(CONFIGS / "torus_hsn.yaml"), "--trainer.precision", precision,
            "--trainer.devices", "2", "--trainer.strategy", "ddp_fork", "--trainer.max_steps", "5", *CSV,
        ])
    runs = {}
    for precision, result in topodist_runs(started).items():
        assert result.returncode == 0, result.stderr[-3000:]
        logs = started[precision][0] / "logs"
        runs[precision] = (losses(logs), halo_bytes_received(logs))
    (loss_32, halo_32), (loss_16, halo_16) = runs["32-true"], runs["bf16-mixed"]
    assert len(loss_16) == len(loss_32) == 5
    assert all(abs(a - b) <= 1e-2 * abs(b) for a, b in zip(loss_16, loss_32))
    assert loss_16 != loss_32  # autocast did run in bfloat16
    assert halo_32 and all(b > 0 for b in halo_32)
    assert halo_16 == [b / 2 for b in halo_32]
