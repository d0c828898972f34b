"""The on-disk format of a partitioned complex: one shard file per part and a manifest.

Layout of a shard directory::

    manifest.json        format, version, partitioner version, complex hash, parameters, per-file sha256
    part-00000.npz       everything part 0 needs (see :func:`_shard_arrays`)
    part-00001.npz       ...

Shard files are uncompressed ``.npz`` archives read with ``allow_pickle=False``;
a training rank reads only its own. The directory is written under a temporary
name and renamed into place. A directory made for another complex, another
world size, method, seed or neighborhood list, or with a modified file, is
refused with a message saying what differs, or rebuilt when asked. One whose
parts an earlier version of the partitioner chose is reused with a warning,
or rebuilt when asked.
"""

import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from topodist.data.complex import Complex
from topodist.data.files import read_json_manifest, replace_directory, sha256_file, staging_directory
from topodist.data.storage import complex_hash
from topodist.partition.methods import PARTITIONER_VERSIONS, assign_cells, default_partition_neighborhoods
from topodist.partition.plan import HaloPlan, Shard, build_shards
from topodist.partition.statistics import partition_statistics

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "load_shard", "prepare_shards", "read_shard_manifest", "save_shards"]

FORMAT_NAME = "topodist-shards"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
HALO_FIELDS = ("halo_cells", "recv_counts", "send_index", "send_counts")


def shard_file_name(part: int) -> str:
    """File name of a part's shard."""
    return f"part-{part:05d}.npz"


def prepare_shards(
    complex_: Complex,
    directory: str | os.PathLike,
    world_size: int,
    method: str = "metis",
    neighborhoods: list[str] | None = None,
    seed: int = 0,
    rebuild: bool = False,
) -> tuple[dict, bool]:
    """Partition a complex into ``directory``, or reuse the shards already there.

    Parameters
    ----------
    complex_ : Complex
    directory : path
    world_size : int
    method : {"metis", "random", "contiguous"}, default="metis"
    neighborhoods : list of str, optional
        Neighborhoods the model uses; :func:`default_partition_neighborhoods` when omitted.
    seed : int, default=0
    rebuild : bool, default=False
        Replace a shard directory that is stale (other complex or parameters)
        or corrupt, or whose parts an earlier version of the partitioner chose.

    Returns
    -------
    manifest : dict
    reused : bool
        Whether the existing directory matched and was kept.

    Warns
    -----
    UserWarning
        When a matching directory's parts come from an earlier version of the
        method (:data:`~topodist.partition.methods.PARTITIONER_VERSIONS`) and
        ``rebuild`` is False: they are valid, and reused.
    """
    directory = Path(directory)
    neighborhoods = default_partition_neighborhoods(complex_) if neighborhoods is None else list(neighborhoods)
    parameters = {"world_size": world_size, "method": method, "neighborhoods": neighborhoods, "seed": seed}
    fingerprint = complex_hash(complex_)
    if (directory / MANIFEST).is_file():
        try:
            manifest = read_shard_manifest(directory, complex_hash=fingerprint, **parameters)
            for part in range(world_size):
                _verify(directory, manifest, part)
        except ValueError:
            if not rebuild:
                raise
        else:
            version, current = manifest.get("partitioner_version", 1), PARTITIONER_VERSIONS[method]
            if version == current:
                return manifest, True
            if not rebuild:
                warnings.warn(
                    f"{directory} holds parts chosen by version {version} of topodist's {method!r} partitioner, "
                    f"which now (version {current}) chooses others for the same arguments; they are valid and "
                    "are reused. To partition anew, rebuild them (--rebuild, prepare_shards(..., rebuild=True)) "
                    "or delete the directory.",
                    stacklevel=2,
                )
                return manifest, True
    elif directory.exists() and any(directory.iterdir()):
        raise FileExistsError(f"{directory} exists and is not a shard directory; refusing to replace it.")
    parts = assign_cells(complex_, world_size, method, neighborhoods, seed)
    shards = build_shards(complex_, parts, neighborhoods, world_size)
    manifest = save_shards(shards, directory, parameters, fingerprint, complex_.name)
    return manifest, False


def save_shards(
    shards: list[Shard], directory: str | os.PathLike, parameters: dict, complex_hash: str, name: str = ""
) -> dict:
    """Write shards and their manifest atomically, replacing an old shard directory.

    Parameters
    ----------
    shards : list of Shard
    directory : path
    parameters : dict
        ``world_size``, ``method``, ``neighborhoods``, ``seed``: recorded and checked on load.
    complex_hash : str
        :func:`topodist.data.storage.complex_hash` of the partitioned complex.
    name : str, default=""
        Name of the complex.

    Returns
    -------
    dict
        The manifest written.
    """
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()) and not (directory / MANIFEST).is_file():
        raise FileExistsError(f"{directory} exists and is not a shard directory; refusing to replace it.")
    staging = staging_directory(directory)
    try:
        files = {}
        for shard in shards:
            path = staging / shard_file_name(shard.part)
            with open(path, "wb") as handle:
                np.savez(handle, **_shard_arrays(shard, parameters["neighborhoods"]))
                handle.flush()
                os.fsync(handle.fileno())
            files[path.name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        statistics = partition_statistics(shards)
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "partitioner_version": PARTITIONER_VERSIONS.get(parameters["method"]),
            "complex_hash": complex_hash,
            "complex_name": name,
            "kind": shards[0].kind,
            "n_cells": list(shards[0].n_cells),
            "parameters": parameters,
            "summary": {key: statistics[key] for key in ("halo_cells", "halo_volume", "imbalance")},
            "files": files,
        }
        with open(staging / MANIFEST, "w") as handle:
            json.dump(manifest, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        if directory.exists() and not any(directory.iterdir()):
            directory.rmdir()
        replace_directory(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def read_shard_manifest(directory: str | os.PathLike, **expected) -> dict:
    """Read a shard directory's manifest and check it against what the caller expects.

    Parameters
    ----------
    directory : path
    **expected
        Any of ``complex_hash``, ``world_size``, ``method``, ``neighborhoods``,
        ``seed``; ``None`` values are not checked.

    Returns
    -------
    dict
    """
    directory = Path(directory)
    manifest = read_json_manifest(directory, MANIFEST, FORMAT_NAME, FORMAT_VERSION, "Rebuild the shards (--rebuild).")
    recorded = {"complex_hash": manifest.get("complex_hash"), **manifest.get("parameters", {})}
    for key, value in expected.items():
        if value is not None and recorded.get(key) != value:
            what = "another complex" if key == "complex_hash" else f"{key}={recorded.get(key)!r}, not {value!r}"
            raise ValueError(
                f"{directory} holds shards of {what}: they are stale for this run. "
                "Rebuild them (--rebuild, or prepare_shards(..., rebuild=True)) or choose another directory."
            )
    return manifest


def load_shard(directory: str | os.PathLike, part: int, verify: bool = True, **expected) -> Shard:
    """Read one part's shard.

    Parameters
    ----------
    directory : path
    part : int
        The part to read, ``0 <= part < world_size``.
    verify : bool, default=True
        Check the file's sha256 against the manifest.
    **expected
        Checked against the manifest, as in :func:`read_shard_manifest`.

    Returns
    -------
    Shard
    """
    directory = Path(directory)
    manifest = read_shard_manifest(directory, **expected)
    world_size = manifest["parameters"]["world_size"]
    if not 0 <= part < world_size:
        raise ValueError(f"part={part} is outside this {world_size}-part shard directory {directory}.")
    if verify:
        _verify(directory, manifest, part)
    path = directory / shard_file_name(part)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError) as error:
        raise ValueError(f"{path} is unreadable ({error}); rebuild the shards (--rebuild).") from None
    return _shard_from_arrays(arrays, part, manifest)


def _verify(directory: Path, manifest: dict, part: int) -> None:
    path = directory / shard_file_name(part)
    entry = manifest["files"].get(path.name)
    if entry is None or not path.is_file():
        raise ValueError(f"{path} is missing; the shard directory is incomplete. Rebuild it (--rebuild).")
    if path.stat().st_size != entry["bytes"] or sha256_file(path) != entry["sha256"]:
        raise ValueError(f"{path} is truncated or modified (sha256 mismatch). Rebuild the shards (--rebuild).")


def _shard_arrays(shard: Shard, neighborhoods: list[str]) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for rank, owned in shard.owned_cells.items():
        arrays[f"owned_{rank}"] = owned
    for rank, plan in shard.halo_plans.items():
        for name in HALO_FIELDS:
            arrays[f"halo_{rank}_{name}"] = getattr(plan, name)
    for index, name in enumerate(neighborhoods):
        matrix = shard.matrices[name]
        arrays[f"matrix_{index}_indptr"] = matrix.indptr.astype(np.int64)
        arrays[f"matrix_{index}_indices"] = matrix.indices.astype(np.int64)
        arrays[f"matrix_{index}_data"] = matrix.data
        arrays[f"matrix_{index}_shape"] = np.array(matrix.shape, dtype=np.int64)
    for rank, x in shard.features.items():
        arrays[f"features_{rank}"] = x.numpy()
    for rank, y in shard.labels.items():
        arrays[f"labels_{rank}"] = y.numpy()
    for split, by_rank in shard.masks.items():
        for rank, mask in by_rank.items():
            arrays[f"mask_{rank}_{split}"] = mask.numpy()
    if shard.positions is not None:
        arrays["positions"] = shard.positions.numpy()
    return arrays


def _shard_from_arrays(arrays: dict[str, np.ndarray], part: int, manifest: dict) -> Shard:
    n_cells = tuple(manifest["n_cells"])
    owned = {rank: arrays[f"owned_{rank}"] for rank in range(len(n_cells))}
    plans = {}
    for key in arrays:
        if key.startswith("halo_") and key.endswith("_halo_cells"):
            rank = int(key.split("_")[1])
            fields = {name: arrays[f"halo_{rank}_{name}"] for name in HALO_FIELDS}
            plans[rank] = HaloPlan(rank=rank, n_owned=len(owned[rank]), **fields)
    matrices = {}
    for index, name in enumerate(manifest["parameters"]["neighborhoods"]):
        stem = f"matrix_{index}"
        matrices[name] = sp.csr_array(
            (arrays[f"{stem}_data"], arrays[f"{stem}_indices"], arrays[f"{stem}_indptr"]),
            shape=tuple(arrays[f"{stem}_shape"]),
        )
    shard = Shard(part, manifest["parameters"]["world_size"], manifest["kind"], n_cells, owned, plans, matrices)
    for key, value in arrays.items():
        head, _, tail = key.partition("_")
        if head == "features":
            shard.features[int(tail)] = torch.from_numpy(value)
        elif head == "labels":
            shard.labels[int(tail)] = torch.from_numpy(value)
        elif head == "mask":
            rank, _, split = tail.partition("_")
            shard.masks.setdefault(split, {})[int(rank)] = torch.from_numpy(value)
        elif key == "positions":
            shard.positions = torch.from_numpy(value)
    return shard
