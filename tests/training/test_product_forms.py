"""``--data.init_args.laplacians``: Laplacians partitioned as their incidences, chosen and reported per neighborhood."""

import pytest
import torch
import yaml

from tests.reference import relative_error
from tests.training.test_cli import CONFIGS, CSV, losses, topodist_runs
from topodist.distributed.chain import NeighborhoodChain
from topodist.training import PartitionedComplexData


def test_factored_laplacians_train_as_the_assembled_ones(tmp_path):
    """SCNN's scaled Laplacians through B^T (B x) on 2 ranks: the same losses as the assembled matrices."""
    curves, runs = {}, {}
    for laplacians in ("assembled", "factored"):
        cwd = tmp_path / laplacians
        cwd.mkdir()
        runs[laplacians] = (cwd, [
            "fit", "--config", str(CONFIGS / "torus_edges_scnn.yaml"), "--data.init_args.laplacians", laplacians,
            "--trainer.strategy", "ddp_fork", "--trainer.max_steps", "5", *CSV,
        ])
    for laplacians, result in topodist_runs(runs).items():
        cwd = runs[laplacians][0]
        assert result.returncode == 0, result.stderr[-3000:]
        curves[laplacians] = losses(cwd / "logs")
        (hparams,) = (cwd / "logs").glob("**/hparams.yaml")
        reported = yaml.safe_load(hparams.read_text())["partition"]
        assert reported["laplacians"] == {name: laplacians
                                          for name in ("scaled_down_laplacian_1", "scaled_up_laplacian_1")}
        partitioned = set(reported["neighborhoods"])
        if laplacians == "factored":
            assert {"incidence_1", "incidence_1.T", "incidence_2", "incidence_2.T"} <= partitioned
            assert "scaled_down_laplacian_1" not in partitioned
            assert "scaled_down_laplacian_1: factored (incidence_1.T @ incidence_1" in result.stdout + result.stderr
        else:
            assert {"scaled_down_laplacian_1", "scaled_up_laplacian_1"} <= partitioned
    assert len(curves["factored"]) == 5
    for factored, assembled in zip(curves["factored"], curves["assembled"], strict=True):
        assert abs(factored - assembled) <= 1e-5 * abs(assembled)


def test_unknown_choice_is_named():
    with pytest.raises(ValueError, match="data.init_args.laplacians='chain': choose one of assembled, factored, auto"):
        PartitionedComplexData("torus:6x5", laplacians="chain")


def test_one_device_applies_a_factored_laplacian_through_its_incidences():
    data = PartitionedComplexData("torus:6x5", laplacians="factored")
    names = ["scaled_down_laplacian_1", "up_laplacian_1", "adjacency_1"]
    data.partition(names)
    assert data.partitioned_names() == ["incidence_1.T", "incidence_1", "incidence_2", "incidence_2.T", "adjacency_1"]
    x = torch.randn(data.complex.n_cells[1], 3, dtype=torch.float32, generator=torch.Generator().manual_seed(0))
    for name in names:
        neighborhood = data.neighborhood(name)
        assert isinstance(neighborhood, NeighborhoodChain) == (name != "adjacency_1")
        assert relative_error(neighborhood @ x, data.complex.neighborhood(name) @ x) <= 1e-5
