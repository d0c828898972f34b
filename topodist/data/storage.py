"""The one on-disk format of a complex: a directory of ``.npy`` arrays and a manifest.

Layout of a complex directory::

    manifest.json                    format, version, kind, counts, per-file sha256, content hash
    incidence_R_S.{indptr,indices,data}.npy   CSR arrays of every primitive incidence
    features_K.npy, labels_K.npy, mask_SPLIT_K.npy, positions.npy, cells_K.npy

``.npy`` files load without pickle and memory-map (``np.load(mmap_mode="r")``).
The directory is written under a temporary name and renamed into place, so a
crash leaves either the previous directory or none, never a half-written one.
"""

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from topodist.data.complex import Complex
from topodist.data.files import (
    read_json_manifest,
    replace_directory,
    sha256_file,
    staging_directory,
    write_durably,
)

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "complex_hash", "load_complex", "save_complex"]

FORMAT_NAME = "topodist-complex"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


def save_complex(complex_: Complex, directory: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write a complex to ``directory`` atomically.

    Parameters
    ----------
    complex_ : Complex
        The complex to write.
    directory : path
        Target directory; must not exist unless ``overwrite``.
    overwrite : bool, default=False
        Replace an existing directory (the old one stays intact until the new
        one is complete).

    Returns
    -------
    Path
        The directory written.
    """
    directory = Path(directory)
    if directory.exists() and not overwrite:
        raise FileExistsError(f"{directory} exists; pass overwrite=True to replace it.")
    if directory.exists() and not (directory / MANIFEST).is_file():
        raise FileExistsError(f"{directory} exists and is not a complex directory; refusing to replace it.")
    staging = staging_directory(directory)
    try:
        files = {}
        for array_name, array in _arrays(complex_).items():
            files[f"{array_name}.npy"] = _write_array(staging / f"{array_name}.npy", array)
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "kind": complex_.kind,
            "name": complex_.name,
            "n_cells": list(complex_.n_cells),
            "complex_label": complex_.complex_label,
            "incidences": [list(key) for key in sorted(complex_.incidences)],
            "files": files,
            "content_hash": _content_hash(files),
        }
        write_durably(staging / MANIFEST, json.dumps(manifest, indent=2).encode())
        replace_directory(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def load_complex(directory: str | os.PathLike, mmap: bool = True, verify: bool = True) -> Complex:
    """Read a complex written by :func:`save_complex`.

    Parameters
    ----------
    directory : path
        A complex directory.
    mmap : bool, default=True
        Memory-map the incidence arrays instead of reading them.
    verify : bool, default=True
        Check every file against the sha256 in the manifest.

    Returns
    -------
    Complex
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    files = manifest["files"]
    if verify:
        for file_name, entry in files.items():
            _verify(directory / file_name, entry)

    def array(name: str, mapped: bool = False) -> np.ndarray:
        return np.load(directory / f"{name}.npy", mmap_mode="r" if mapped else None, allow_pickle=False)

    n_cells = manifest["n_cells"]
    incidences = {}
    for r, s in manifest["incidences"]:
        stem = f"incidence_{r}_{s}"
        incidences[(r, s)] = sp.csr_array(
            (array(f"{stem}.data", mmap), array(f"{stem}.indices", mmap), array(f"{stem}.indptr", mmap)),
            shape=(n_cells[r], n_cells[s]),
        )
    by_prefix: dict[str, dict] = {"features": {}, "labels": {}, "cells": {}}
    masks: dict[str, dict[int, torch.Tensor]] = {}
    positions = None
    for file_name in files:
        stem = file_name.removesuffix(".npy")
        head, _, tail = stem.rpartition("_")
        if head in by_prefix:
            value = array(stem)
            by_prefix[head][int(tail)] = value if head == "cells" else torch.from_numpy(value)
        elif stem.startswith("mask_"):
            split = head.removeprefix("mask_")
            masks.setdefault(split, {})[int(tail)] = torch.from_numpy(array(stem))
        elif stem == "positions":
            positions = torch.from_numpy(array(stem))
    return Complex(
        manifest["kind"],
        n_cells,
        incidences,
        features=by_prefix["features"],
        labels=by_prefix["labels"],
        masks=masks,
        complex_label=manifest["complex_label"],
        positions=positions,
        cells=by_prefix["cells"],
        name=manifest["name"],
    )


def read_manifest(directory: str | os.PathLike) -> dict:
    """Read and check the manifest of a complex directory.

    Parameters
    ----------
    directory : path

    Returns
    -------
    dict
        The manifest.
    """
    path = Path(directory) / MANIFEST
    manifest = read_json_manifest(Path(directory), MANIFEST, FORMAT_NAME, FORMAT_VERSION, "Rebuild the directory.")
    if manifest.get("content_hash") != _content_hash(manifest.get("files", {})):
        raise ValueError(f"{path} is corrupt: its file list does not match its content hash.")
    return manifest


def complex_hash(complex_: Complex) -> str:
    """sha256 of everything :func:`save_complex` writes, computed in memory.

    Two complexes have the same hash exactly when their kind, cell counts,
    incidences and data arrays are equal bit for bit.

    Parameters
    ----------
    complex_ : Complex

    Returns
    -------
    str
        Hex digest.
    """
    digest = hashlib.sha256(f"{complex_.kind}:{list(complex_.n_cells)}\n".encode())
    for array_name, array in sorted(_arrays(complex_).items()):
        array = np.ascontiguousarray(array)
        digest.update(f"{array_name}:{array.dtype.str}:{list(array.shape)}\n".encode())
        digest.update(array.reshape(-1).view(np.uint8))
    return digest.hexdigest()


def _arrays(complex_: Complex) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for (r, s), matrix in sorted(complex_.incidences.items()):
        matrix = sp.csr_array(matrix)
        matrix.sort_indices()
        arrays[f"incidence_{r}_{s}.indptr"] = matrix.indptr.astype(np.int64)
        arrays[f"incidence_{r}_{s}.indices"] = matrix.indices.astype(np.int64)
        arrays[f"incidence_{r}_{s}.data"] = np.asarray(matrix.data, dtype=np.float64)
    for rank, x in complex_.features.items():
        arrays[f"features_{rank}"] = x.detach().cpu().numpy()
    for rank, y in complex_.labels.items():
        arrays[f"labels_{rank}"] = y.detach().cpu().numpy()
    for split, by_rank in complex_.masks.items():
        for rank, mask in by_rank.items():
            arrays[f"mask_{split}_{rank}"] = mask.cpu().numpy()
    if complex_.positions is not None:
        arrays["positions"] = complex_.positions.cpu().numpy()
    for rank, cells in complex_.cells.items():
        arrays[f"cells_{rank}"] = np.asarray(cells)
    return arrays


def _write_array(path: Path, array: np.ndarray) -> dict:
    with open(path, "wb") as handle:
        np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
        handle.flush()
        os.fsync(handle.fileno())
    return {
        "shape": list(array.shape), "dtype": str(array.dtype), "sha256": sha256_file(path),
        "bytes": path.stat().st_size,
    }


def _verify(path: Path, entry: dict) -> None:
    if not path.is_file():
        raise ValueError(f"{path} is missing; the complex directory is incomplete.")
    if path.stat().st_size != entry["bytes"] or sha256_file(path) != entry["sha256"]:
        raise ValueError(
            f"{path} is corrupt or was modified: its sha256 does not match the manifest. "
            "Rebuild the directory."
        )


def _content_hash(files: dict) -> str:
    digest = hashlib.sha256()
    for file_name in sorted(files):
        digest.update(f"{file_name}:{files[file_name]['sha256']}\n".encode())
    return digest.hexdigest()
