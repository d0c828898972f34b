"""Resolve a SOURCE argument (complex directory, mesh file or dataset name) to a complex."""

from pathlib import Path

from topodist.data import datasets
from topodist.data.class_folders import read_class_folders
from topodist.data.complex import Complex
from topodist.data.mesh_files import read_mesh
from topodist.data.storage import MANIFEST, load_complex

__all__ = ["COMPLEX_DATASET_SOURCES", "DATASET_SOURCES", "load_complex_dataset", "load_source"]

# name -> (builder, argument converters, number of required arguments, usage)
DATASET_SOURCES = {
    "karate": (datasets.karate_club, (int, float, int), 0, "karate[:FEAT_DIM[:TRAIN_FRACTION[:SPLIT_SEED]]]"),
    "grid": (datasets.grid_mesh, (int, float, int), 1, "grid:SIDE[:NOISE[:N_CLASSES]]"),
    "torus": (datasets.torus_mesh, (int, int, float, int), 2, "torus:N_MAJORxN_MINOR[:NOISE[:N_CLASSES]]"),
    "celltorus": (datasets.cell_torus, (int, int, float, int), 2, "celltorus:N_MAJORxN_MINOR[:NOISE[:N_CLASSES]]"),
    "cctorus": (
        datasets.combinatorial_torus, (int, int, float, int), 2, "cctorus:N_MAJORxN_MINOR[:NOISE[:N_CLASSES]]"
    ),
    "icosphere": (datasets.icosphere_mesh, (int, float, int), 1, "icosphere:SUBDIVISIONS[:NOISE[:N_CLASSES]]"),
    "rgg": (datasets.random_geometric_complex, (int, float, int), 2, "rgg:N_NODES:RADIUS[:MAX_RANK]"),
    "hypergraph": (datasets.random_hypergraph, (int, int), 2, "hypergraph:N_NODES:N_HYPEREDGES"),
}


def load_source(source: str) -> Complex:
    """Load a complex from a directory written by ``save_complex``, a mesh file, or a dataset.

    Parameters
    ----------
    source : str
        A path, or a dataset: ``karate`` (or ``karate:2:0.4:0``: feature
        dimension, training fraction, split seed), ``grid:SIDE``, meshes with
        optional ``:NOISE:N_CLASSES`` (``torus:60x30:1.0:0``: regression targets), ``torus:200x100``,
        ``icosphere:5``, ``rgg:10000:0.02[:3]``, ``hypergraph:1000:500``, the square-cell
        tori ``celltorus:40x20`` (a cell complex) and ``cctorus:40x20`` (a combinatorial complex).

    Returns
    -------
    Complex
    """
    path = Path(source)
    if path.is_dir():
        if not (path / MANIFEST).is_file():
            raise ValueError(f"{path} is a directory without {MANIFEST}: not a saved complex.")
        return load_complex(path)
    if path.is_file():
        return read_mesh(path)
    return _build_dataset(source, DATASET_SOURCES, f"SOURCE {source!r} is neither an existing path nor a dataset")


# name -> (builder, argument converters, number of required arguments, usage), for lists of complexes
COMPLEX_DATASET_SOURCES = {
    "genus": (datasets.mesh_genus_dataset, (int, float, int), 1, "genus:N_COMPLEXES[:NOISE[:SEED]]"),
}


def load_complex_dataset(source: str) -> list:
    """Load a dataset of many small complexes, one label each.

    Parameters
    ----------
    source : str
        A directory of class folders holding mesh files or saved complexes
        (:func:`~topodist.data.class_folders.read_class_folders`), or
        ``genus:200`` (spheres against tori; optionally ``:NOISE:SEED``).

    Returns
    -------
    list of Complex
        Each with ``complex_label`` set.
    """
    path = Path(source)
    if path.is_dir():
        if (path / MANIFEST).is_file():
            raise ValueError(
                f"{path} is one saved complex; a dataset of complexes is a directory of class folders, "
                "each holding mesh files or saved complexes."
            )
        return read_class_folders(path)
    if path.exists():
        raise ValueError(f"{path} is a file; a dataset of complexes is a directory of class folders.")
    unknown = f"{source!r} is neither a directory of class folders nor a dataset of complexes"
    return _build_dataset(source, COMPLEX_DATASET_SOURCES, unknown)


def _build_dataset(source: str, table: dict, unknown: str):
    """Call the builder ``NAME`` of ``table`` with the converted ``:``- (or ``x``-) separated arguments."""
    name, _, arguments = source.partition(":")
    if name not in table:
        raise ValueError(f"{unknown}; datasets are " + ", ".join(entry[-1] for entry in table.values()) + ".")
    build, converters, n_required, usage = table[name]
    values = arguments.replace("x", ":").split(":") if arguments else []
    if not n_required <= len(values) <= len(converters):
        raise ValueError(f"dataset {name!r} expects {usage}, got {source!r}.")
    try:
        return build(*(convert(value) for convert, value in zip(converters, values, strict=False)))
    except ValueError as error:
        raise ValueError(f"dataset {source!r}: {error}") from None
