"""Block-diagonal batches of small complexes, the global-batch sampler, and datasets of complexes in training."""

import re
import shutil

import lightning.pytorch as pl
import numpy as np
import pytest
import torch

from tests.data.test_class_folders import write_class_folders
from tests.training.fitting import fit_metrics
from tests.training.node_model import genus_classifier
from tests.training.test_cli import CONFIGS, CSV, topodist
from topodist.data.datasets import mesh_genus_dataset
from topodist.training import ComplexClassification, ComplexDatasetData
from topodist.training.complex_data import GlobalBatchSampler, collate_complexes


def test_a_batch_is_the_block_diagonal_complex():
    complexes = mesh_genus_dataset(3)
    batch = collate_complexes(complexes, ["incidence_1", "adjacency_0"])
    offsets = np.cumsum([0] + [c.n_cells[0] for c in complexes])
    edge_offsets = np.cumsum([0] + [c.n_cells[1] for c in complexes])
    dense = batch.neighborhoods["incidence_1"].to_dense()
    for i, c in enumerate(complexes):
        block = dense[offsets[i] : offsets[i + 1], edge_offsets[i] : edge_offsets[i + 1]]
        assert torch.equal(block, torch.from_numpy(c.matrix("incidence_1").toarray()).float())
        assert torch.equal(batch.x[0][offsets[i] : offsets[i + 1]], c.features[0].float())
    assert dense.abs().sum() == sum(c.matrix("incidence_1").nnz for c in complexes)  # nothing off the blocks
    assert batch.batch[0].tolist() == sum(([i] * c.n_cells[0] for i, c in enumerate(complexes)), [])
    assert batch.labels.tolist() == [c.complex_label for c in complexes] and batch.n_complexes == 3


@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_ranks_share_each_global_batch(world_size):
    samplers = [GlobalBatchSampler(23, 8, world_size, rank, shuffle=True, seed=4) for rank in range(world_size)]
    single = GlobalBatchSampler(23, 8, 1, 0, shuffle=True, seed=4)
    for epoch in (0, 1):
        for sampler in [*samplers, single]:
            sampler.set_epoch(epoch)
        shares = [list(sampler) for sampler in samplers]
        assert len({len(share) for share in shares}) == 1  # every rank takes as many steps
        for step, whole in enumerate(single):
            assert sorted(sum((share[step] for share in shares), [])) == sorted(whole)
    first, second = (list(GlobalBatchSampler(23, 8, 1, 0, True, 4)) for _ in range(2))
    assert first == second
    reshuffled = GlobalBatchSampler(23, 8, 1, 0, True, 4)
    reshuffled.set_epoch(1)
    assert list(reshuffled) != first


def test_a_rank_without_a_complex_in_a_short_last_batch_gets_an_empty_batch():
    complexes = mesh_genus_dataset(3)
    shares = [list(GlobalBatchSampler(17, 8, 3, rank, shuffle=False, seed=0))[-1] for rank in range(3)]
    assert shares == [[16], [], []]
    empty = collate_complexes([], ["incidence_1", "adjacency_0"], template=complexes[0])
    assert empty.n_complexes == 0 and empty.labels.dtype == torch.long
    assert set(empty.x) == set(complexes[0].features)
    for rank, features in empty.x.items():
        assert features.shape == (0, complexes[0].features[rank].shape[-1]) and features.dtype == torch.float32
    assert all(len(cells) == 0 for cells in empty.batch.values()) and len(empty.batch) == len(complexes[0].n_cells)
    assert all(matrix.shape == (0, 0) for matrix in empty.neighborhoods.values())
    with pytest.raises(ValueError, match="template"):
        collate_complexes([], ["incidence_1"])


def fit_genus(devices: int, save_dir) -> list[dict]:
    pl.seed_everything(0, workers=True)
    network = genus_classifier()
    # 26 complexes: 15 to train, in steps of 7, 7 and 1: two of the three ranks have nothing in the third;
    # the fourth step's loss shows that the third step's update equals one device's
    data = ComplexDatasetData("genus:26", batch_size=7)
    strategy = "ddp_spawn" if devices > 1 else "auto"
    rows = fit_metrics(ComplexClassification(network, lr=0.01), data, save_dir, steps=4, accelerator="cpu",
                       devices=devices, strategy=strategy)
    return [float(row["train/loss"]) for row in rows if row.get("train/loss")]


def test_ranks_with_an_empty_share_take_the_step_and_the_losses_equal_one_device(tmp_path):
    single, distributed = fit_genus(1, tmp_path / "single"), fit_genus(3, tmp_path / "ddp")
    assert len(single) == len(distributed) == 4
    assert distributed == pytest.approx(single, rel=1e-5)


def test_topodist_trains_and_predicts_on_class_folders_and_every_rank_stops_on_a_class_the_network_lacks(tmp_path):
    write_class_folders(tmp_path / "meshes", per_class=4)  # 8 meshes: 4 to train, 2 to validate, 2 to test
    arguments = ["--config", str(CONFIGS / "genus_hsn.yaml"), "--data.init_args.source", "meshes",
                 "--data.init_args.batch_size", "4", "--trainer.devices", "2", *CSV]
    fitted = topodist(tmp_path, "fit", *arguments, "--trainer.max_steps", "2")
    assert fitted.returncode == 0, fitted.stderr[-3000:]
    predicted = topodist(tmp_path, "predict", *arguments, "--ckpt_path", "last")
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    (path,) = re.findall(r"wrote the predictions of 8 complexes to (\S+)", predicted.stderr)
    with np.load(tmp_path / path) as written:
        assert written["complexes"].tolist() == list(range(8)) and written["outputs"].shape == (8, 2)
        assert written["names"].tolist() == [f"{shape}/{i}.{suffix}" for shape, suffix in (("sphere", "off"),
                                                                                          ("torus", "obj"))
                                             for i in range(4)]
    three = tmp_path / "three_classes"  # a run of its own: no checkpoint directory to resume from
    shutil.copytree(tmp_path / "meshes", three / "meshes")
    shutil.copytree(three / "meshes" / "sphere", three / "meshes" / "tetra")  # sorted: sphere 0, tetra 1, torus 2
    stopped = topodist(three, "fit", *arguments, "--trainer.max_steps", "1")
    assert stopped.returncode != 0
    refusal = "data.source='meshes': 4 of 12 complexes have no label or a label outside 0 .. 1 (n_classes=2)"
    refusing_ranks = sorted(line.split(":", 1)[0] for line in stopped.stderr.splitlines() if refusal in line)
    assert refusing_ranks == ["[rank0]", "[rank1]"]  # the ranks print in whichever order they reach the check
