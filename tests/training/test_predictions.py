"""Predictions of every rank gathered into one file, sorted by cell or complex: 1 and 3 ranks write the same."""

from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import torch

from tests.training.fitting import WarningFilters
from tests.training.node_model import NodeEdgeNode, genus_classifier
from topodist.data.datasets import torus_mesh
from topodist.data.storage import save_complex
from topodist.training import (
    CellClassification,
    ComplexClassification,
    ComplexDatasetData,
    PartitionedComplexData,
    PredictionWriter,
)
from topodist.training.complex_data import collate_complexes
from topodist.training.predictions import sorted_predictions


def test_sorted_predictions_order_every_array_by_the_index_and_refuse_overlapping_parts():
    parts = [
        {"cells": np.array([4, 0]), "predictions": np.array([40, 0]), "outputs": np.array([[4.0], [0.0]])},
        {"cells": np.array([], dtype=np.int64), "predictions": np.array([], dtype=np.int64),
         "outputs": np.zeros((0, 1))},
        {"cells": np.array([2, 1, 3]), "predictions": np.array([20, 10, 30]), "outputs": np.array([[2.0], [1], [3]])},
    ]
    merged = sorted_predictions(parts)
    assert list(merged) == ["cells", "predictions", "outputs"]
    assert merged["cells"].tolist() == [0, 1, 2, 3, 4]
    assert merged["predictions"].tolist() == [0, 10, 20, 30, 40]
    assert merged["outputs"][:, 0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    parts[2]["cells"] = np.array([2, 4, 3])
    with pytest.raises(ValueError, match=r"cells \[4\] are predicted by more than one part"):
        sorted_predictions(parts)


def test_a_predict_step_that_returns_no_dict_is_named():
    writer = PredictionWriter("unused.npz")
    module = CellClassification(NodeEdgeNode())
    with pytest.raises(TypeError, match="CellClassification.predict_step must return a dict of tensors"):
        writer.write_on_batch_end(None, module, torch.zeros(3, 2), None, None, 0, 0)


def predict(module, data, devices: int, path: Path) -> dict[str, np.ndarray]:
    """``Trainer.predict`` on ``devices`` CPU ranks with a :class:`PredictionWriter` to ``path``; the file read back."""
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=devices,
        strategy="ddp_spawn" if devices > 1 else "auto",
        logger=False,
        use_distributed_sampler=False,
        inference_mode=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[PredictionWriter(str(path)), WarningFilters()],
    )
    trainer.predict(module, datamodule=data, return_predictions=False)
    with np.load(path) as saved:
        return dict(saved)


NAN_NODES = [3, 50]


@pytest.mark.filterwarnings("ignore:.*zeroed and left out of every split:UserWarning")
def test_cell_predictions_of_three_ranks_equal_the_network_on_the_whole_complex(tmp_path):
    complex_ = torus_mesh(12, 8, seed=0)
    complex_.features[0][NAN_NODES, 1] = float("nan")
    save_complex(complex_, tmp_path / "torus")
    torch.manual_seed(0)
    network = NodeEdgeNode(in_channels=2)
    written = {
        devices: predict(
            CellClassification(network, rank=0),
            PartitionedComplexData(str(tmp_path / "torus"), nonfinite="skip"),
            devices,
            tmp_path / f"{devices}.npz",
        )
        for devices in (1, 3)
    }
    # the reference: the network on the whole complex, the features of a cell with a NaN zeroed as nonfinite=skip does
    x = {0: complex_.features[0].float()}
    x[0][NAN_NODES] = 0.0
    with torch.no_grad():
        expected = network(x, {name: complex_.neighborhood(name) for name in network.neighborhoods})[0]
    kept = np.setdiff1d(np.arange(complex_.n_cells[0]), NAN_NODES)
    for devices, saved in written.items():
        assert list(saved) == ["cells", "predictions", "outputs"]
        assert saved["cells"].tolist() == kept.tolist(), devices  # every cell once, but those without features
        np.testing.assert_allclose(saved["outputs"], expected[kept].numpy(), rtol=1e-5, atol=1e-6)
        assert saved["predictions"].tolist() == saved["outputs"].argmax(axis=-1).tolist()


def test_complex_predictions_of_three_ranks_cover_the_dataset_in_order(tmp_path):
    network = genus_classifier()
    # 10 complexes in batches of 4, 4 and 2: the last leaves the third rank an empty share
    written = {
        devices: predict(ComplexClassification(network), ComplexDatasetData("genus:10", batch_size=4), devices,
                         tmp_path / f"{devices}.npz")
        for devices in (1, 3)
    }
    data = ComplexDatasetData("genus:10")
    data.setup()
    names = ["incidence_1", "adjacency_0"]
    with torch.no_grad():
        expected = torch.cat([
            network(batch.x, batch.neighborhoods, batch.batch[0], batch.n_complexes)
            for batch in (collate_complexes([complex_], names) for complex_ in data.complexes)
        ])
    for devices, saved in written.items():
        assert list(saved) == ["complexes", "predictions", "outputs", "names"]
        assert saved["complexes"].tolist() == list(range(10)), devices
        assert saved["names"].tolist() == [complex_.name for complex_ in data.complexes]
        np.testing.assert_allclose(saved["outputs"], expected.numpy(), rtol=1e-5, atol=1e-6)
        assert saved["predictions"].tolist() == saved["outputs"].argmax(axis=-1).tolist()
