"""A dataset of complexes from class folders: labels by sorted folder name, mesh files and saved complexes, and
folders that cannot make a dataset named."""

import meshio
import numpy as np
import pytest
import torch

from topodist.data.class_folders import read_class_folders
from topodist.data.datasets import icosphere_mesh, torus_mesh
from topodist.data.sources import load_complex_dataset
from topodist.data.storage import save_complex


def write_mesh(path, mesh) -> None:
    """A triangle mesh as a file of the format its suffix names."""
    meshio.write(path, meshio.Mesh(mesh.positions.numpy(), [("triangle", mesh.cells[2])]))


def write_class_folders(root, per_class: int = 3) -> None:
    """``root/torus`` and ``root/sphere`` (labels 1 and 0: sorted names), mesh files in two formats."""
    (root / "torus").mkdir(parents=True)
    (root / "sphere").mkdir()
    for i in range(per_class):
        write_mesh(root / "torus" / f"{i}.obj", torus_mesh(7 + i, 5, seed=i))
        write_mesh(root / "sphere" / f"{i}.off", icosphere_mesh(1, seed=i))


def test_labels_are_the_sorted_folder_names_and_meshes_bring_their_coordinates(tmp_path):
    write_class_folders(tmp_path)
    (tmp_path / ".cache").mkdir()  # hidden entries are not classes, nor items
    (tmp_path / "sphere" / ".DS_Store").write_text("")
    dataset = read_class_folders(tmp_path)
    assert [c.name for c in dataset] == [f"sphere/{i}.off" for i in range(3)] + [f"torus/{i}.obj" for i in range(3)]
    assert [c.complex_label for c in dataset] == [0, 0, 0, 1, 1, 1]
    torus = torus_mesh(8, 5, seed=1)
    read = dataset[4]
    assert read.n_cells == torus.n_cells and read.features[0].dtype == torch.float32
    np.testing.assert_allclose(read.features[0].numpy(), torus.positions.numpy(), rtol=1e-6)
    assert (read.matrix("incidence_1") != torus.matrix("incidence_1")).nnz == 0
    assert [c.name for c in load_complex_dataset(str(tmp_path))] == [c.name for c in dataset]


def test_a_saved_complex_keeps_its_own_features_and_takes_its_folders_label(tmp_path):
    for label, name in enumerate(("a", "b")):
        complex_ = torus_mesh(6, 5, seed=label)
        complex_.features = {0: torch.full((30, 3), float(label))}
        complex_.complex_label = 7
        save_complex(complex_, tmp_path / name / "saved")
    dataset = read_class_folders(tmp_path)
    assert [c.complex_label for c in dataset] == [0, 1]
    assert torch.equal(dataset[1].features[0], torch.ones(30, 3))


def test_folders_that_cannot_make_a_dataset_are_named(tmp_path):
    with pytest.raises(ValueError, match="has no class folders"):
        read_class_folders(tmp_path)
    write_class_folders(tmp_path, per_class=1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"class folder .*empty is empty"):
        read_class_folders(tmp_path)
    (tmp_path / "empty").rmdir()
    (tmp_path / "torus" / "notes").mkdir()
    with pytest.raises(ValueError, match=r"torus/notes is a directory without manifest.json"):
        read_class_folders(tmp_path)
    (tmp_path / "torus" / "notes").rmdir()
    wide = torus_mesh(6, 5, seed=0)
    wide.features = {0: torch.zeros(30, 2)}
    save_complex(wide, tmp_path / "torus" / "wide")
    with pytest.raises(ValueError, match=r"torus/wide is a simplicial complex of top rank 2 with feature widths \{0: 2\}"
                                         r".* but sphere/0.off .* \{0: 3\}"):
        read_class_folders(tmp_path)


def test_a_dataset_source_is_class_folders_or_a_named_dataset(tmp_path):
    save_complex(torus_mesh(6, 5), tmp_path / "one")
    with pytest.raises(ValueError, match="is one saved complex; a dataset of complexes is a directory of class folders"):
        load_complex_dataset(str(tmp_path / "one"))
    write_mesh(tmp_path / "mesh.obj", torus_mesh(6, 5))
    with pytest.raises(ValueError, match="is a file; a dataset of complexes is a directory of class folders"):
        load_complex_dataset(str(tmp_path / "mesh.obj"))
    with pytest.raises(ValueError, match="neither a directory of class folders nor a dataset of complexes"):
        load_complex_dataset(str(tmp_path / "missing"))
    assert len(load_complex_dataset("genus:4")) == 4
