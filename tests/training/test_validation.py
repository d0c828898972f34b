"""Bad training data stops every rank at once with an error naming the cells: NaN/Inf features (or skips them),
labels out of range, empty splits."""

import os
import time

import pytest
import torch
import torch.distributed as dist

from tests.distributed.harness import run_on_ranks
from tests.training.test_cli import CONFIGS, CSV, topodist
from topodist.data.datasets import mesh_genus_dataset, torus_mesh
from topodist.data.storage import save_complex
from topodist.training.validation import check_complex_labels, check_features, check_labels_and_splits, classes_of


def local_sum(value: torch.Tensor) -> torch.Tensor:
    return value


def test_nonfinite_features_are_named_or_skipped():
    x = {0: torch.ones(6, 2), 1: torch.ones(4, 2)}
    x[0][2, 1] = float("nan")
    x[0][5, 0] = float("inf")
    ids = {0: torch.arange(10, 16), 1: torch.arange(4)}
    with pytest.raises(ValueError, match=r"2 cell\(s\) of rank 0 have NaN or infinite features; cells \[12, 15\]"):
        check_features(x, ids, local_sum, "raise", "data.source='x'")
    with pytest.warns(UserWarning, match="zeroed and left out of every split"):
        dropped = check_features(x, ids, local_sum, "skip", "data.source='x'")
    assert dropped[0].tolist() == [False, False, True, False, False, True] and 1 not in dropped
    assert torch.isfinite(x[0]).all() and (x[0][[2, 5]] == 0).all()
    with pytest.raises(ValueError, match="nonfinite='ignore'"):
        check_features(x, ids, local_sum, "ignore", "data.source='x'")


def _masks(n, empty=()):
    masks = {split: torch.zeros(n, dtype=torch.bool) for split in ("train", "val", "test")}
    for i, split in enumerate(("train", "val", "test")):
        if split not in empty:
            masks[split][i::3] = True
    return masks


def test_labels_out_of_range_and_empty_splits_are_refused():
    ids = torch.arange(100, 109)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2])
    check_labels_and_splits(labels, _masks(9), ids, 3, local_sum, "fit", "w")
    with pytest.raises(ValueError, match=r"labels outside 0 .. 1 \(n_classes=2\); on this part cells \[102, 105, 108\]"):
        check_labels_and_splits(labels, _masks(9), ids, 2, local_sum, "fit", "w")
    unlabelled = labels.clone()
    unlabelled[4] = -1  # cell 4 is in the val split
    with pytest.raises(ValueError, match="cells \\[104\\] have \\[-1\\]"):
        check_labels_and_splits(unlabelled, _masks(9), ids, 3, local_sum, "fit", "w")
    with pytest.raises(ValueError, match="'val' split has no labelled cells; `topodist fit`"):
        check_labels_and_splits(labels, _masks(9, empty=("val",)), ids, 3, local_sum, "fit", "w")
    check_labels_and_splits(labels, _masks(9, empty=("val",)), ids, 3, local_sum, "test", "w")  # test needs test only
    targets = torch.linspace(0, 1, 9)
    targets[3] = float("nan")
    with pytest.raises(ValueError, match="non-finite regression targets"):
        check_labels_and_splits(targets, _masks(9), ids, None, local_sum, "fit", "w")


def test_complex_labels_must_be_classes_of_the_network():
    dataset = mesh_genus_dataset(4)  # labels 0, 1, 0, 1
    check_complex_labels(dataset, 2, "w")
    dataset[1].complex_label, dataset[3].complex_label = None, 2
    with pytest.raises(ValueError, match=r"^w: 2 of 4 complexes have no label or a label outside 0 .. 1 \(n_classes=2\); "
                                         r"the first: torus-1 \(None\), torus-3 \(2\)\.$"):
        check_complex_labels(dataset, 2, "w")
    with pytest.raises(ValueError, match=r"1 of 4 complexes .* outside 0 .. 2 \(n_classes=3\); the first: torus-1 "):
        check_complex_labels(dataset, 3, "w")  # label 2 is a class of 3
    with pytest.raises(ValueError, match=r"1 of 4 complexes have no label \(n_classes=None\); the first: torus-1"):
        check_complex_labels(dataset, None, "w")  # a network without n_classes: only the missing label


class _Network(torch.nn.Module):
    def __init__(self, n_classes):
        super().__init__()
        self.n_classes = n_classes


def test_classification_needs_two_classes():
    assert classes_of(torch.nn.Linear(2, 2), "CellClassification") is None  # no n_classes: not checked
    assert classes_of(_Network(3), "CellClassification") == 3
    with pytest.raises(ValueError, match=r"n_classes=1: CellClassification needs at least 2 classes \(one logit per "
                                         r"class\); for one value per cell use topodist.training.CellRegression\."):
        classes_of(_Network(1), "CellClassification")
    with pytest.raises(ValueError, match=r"n_classes=1: ComplexClassification needs at least 2 classes \(one logit "
                                         r"per class\)\.$"):
        classes_of(_Network(1), "ComplexClassification")


def bad_cells_on_one_part(rank, world_size):
    def global_sum(value):
        value = value.detach().to(torch.float64).clone()
        dist.all_reduce(value)
        return value

    x = {0: torch.ones(5, 3)}
    if rank == 1:
        x[0][4, 2] = float("nan")
    ids = {0: torch.arange(5) + 5 * rank}
    with pytest.raises(ValueError, match=r"1 cell\(s\) of rank 0 have NaN"):  # every rank, not only rank 1
        check_features(x, ids, global_sum, "raise", "w")
    labels = torch.zeros(5, dtype=torch.long)
    masks = _masks(5)
    if rank == 0:
        masks["test"][:] = False  # rank 1 still has test cells: the split is not empty
    check_labels_and_splits(labels, masks, ids[0], 2, global_sum, "test", "w")
    masks["test"][:] = False
    with pytest.raises(ValueError, match="'test' split has no labelled cells"):
        check_labels_and_splits(labels, masks, ids[0], 2, global_sum, "test", "w")


def test_every_rank_raises_when_one_part_has_bad_cells():
    run_on_ranks(bad_cells_on_one_part, 2)


@pytest.mark.filterwarnings("default:.*zeroed and left out of every split:UserWarning")  # printed, as asserted
def test_the_cli_stops_on_nan_features_or_skips_them(tmp_path):
    complex_ = torus_mesh(20, 10, seed=0)
    complex_.features[0][[3, 77], 0] = float("nan")
    save_complex(complex_, tmp_path / "nan_torus")
    config = str(CONFIGS / "torus_hsn.yaml")
    common = [
        "--data.init_args.source", str(tmp_path / "nan_torus"), "--trainer.devices", "2", "--trainer.strategy",
        "ddp_fork", "--trainer.max_steps", "2", *CSV,
    ]

    def fit(*extra):
        return topodist(tmp_path, "fit", "--config", config, *common, *extra)

    start = time.monotonic()
    stopped = fit()
    assert stopped.returncode != 0
    assert "2 cell(s) of rank 0 have NaN or infinite features" in stopped.stderr
    assert time.monotonic() - start < 60
    skipped = fit("--data.init_args.nonfinite", "skip")
    assert skipped.returncode == 0, skipped.stderr[-3000:]
    assert "zeroed and left out of every split" in skipped.stderr
    assert os.path.isdir(tmp_path / "logs")
