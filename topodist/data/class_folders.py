"""A dataset of complexes on disk: one folder per class, one mesh file or saved complex per item.

::

    DIR/
      chair/   a.off  b.obj  c/ (save_complex)   ...
      table/   d.ply  ...

The classes are the folder names in sorted order (label 0, 1, ...), as
torchvision's ``ImageFolder`` reads images; items are read in sorted order
within each class. A mesh file (any format :func:`~topodist.data.mesh_files.read_mesh`
reads) gets its node coordinates as node features; a saved complex
(:func:`~topodist.data.storage.save_complex`) keeps its own features.
"""

import os
from pathlib import Path

from topodist.data.complex import Complex
from topodist.data.mesh_files import read_mesh
from topodist.data.storage import MANIFEST, load_complex

__all__ = ["read_class_folders"]


def read_class_folders(directory: str | os.PathLike) -> list[Complex]:
    """Read every complex under ``directory``, labelled by the folder it is in.

    Parameters
    ----------
    directory : path
        A directory of class folders (hidden entries, starting with ``.``, are
        skipped).

    Returns
    -------
    list of Complex
        Class by class and item by item, in sorted order; each with
        ``complex_label`` (the class's position among the sorted folder
        names), ``name`` (``class/item``) and the same kind, top rank and
        feature widths as the first.
    """
    directory = Path(directory)
    classes = sorted(entry for entry in _visible(directory) if entry.is_dir())
    if not classes:
        raise ValueError(
            f"{directory} has no class folders: a dataset of complexes is a directory with one folder per class, "
            "each holding mesh files or saved complexes."
        )
    dataset = []
    for label, folder in enumerate(classes):
        items = sorted(_visible(folder))
        if not items:
            raise ValueError(f"class folder {folder} is empty: every class needs at least one complex.")
        for item in items:
            complex_ = _read_item(item)
            complex_.complex_label = label
            complex_.name = f"{folder.name}/{item.name}"
            if dataset:
                _check_alike(complex_, dataset[0])
            dataset.append(complex_)
    return dataset


def _visible(directory: Path) -> list[Path]:
    return [entry for entry in directory.iterdir() if not entry.name.startswith(".")]


def _read_item(path: Path) -> Complex:
    """A saved complex as it was saved, or a mesh file with its node coordinates as node features."""
    if path.is_dir():
        if not (path / MANIFEST).is_file():
            raise ValueError(f"{path} is a directory without {MANIFEST}: not a saved complex.")
        return load_complex(path, mmap=False)
    mesh = read_mesh(path)
    mesh.features = {0: mesh.positions.float()}
    return mesh


def _check_alike(complex_: Complex, first: Complex) -> None:
    """Refuse an item that cannot share a batch (or a model) with the first one."""

    def shape(c: Complex) -> tuple:
        widths = {rank: int(x.shape[-1]) for rank, x in sorted(c.features.items())}
        return c.kind, c.max_rank, widths

    if shape(complex_) != shape(first):
        kind, max_rank, widths = shape(complex_)
        first_kind, first_rank, first_widths = shape(first)
        raise ValueError(
            f"{complex_.name} is a {kind} complex of top rank {max_rank} with feature widths {widths} by rank, "
            f"but {first.name} is a {first_kind} complex of top rank {first_rank} with feature widths "
            f"{first_widths}: every complex of a dataset needs the same kind, top rank and features."
        )
