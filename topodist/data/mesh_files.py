"""Read meshes from files (.off, .obj, .ply, .vtk, .vtu, .msh, .stl, ...) through meshio."""

import os
import warnings
from pathlib import Path

import numpy as np

from topodist.data.builders import tetrahedral_mesh, triangle_mesh
from topodist.data.complex import Complex

__all__ = ["read_mesh"]


def read_mesh(path: str | os.PathLike, check_manifold: bool = True) -> Complex:
    """Read a triangle or tetrahedral mesh file into a simplicial complex.

    Tetrahedra are used when the file has any, triangles otherwise; other cell
    types (lines, vertices) are ignored, and quads and polygons are refused.

    Parameters
    ----------
    path : path
        Any format meshio reads.
    check_manifold : bool, default=True
        See :func:`topodist.data.triangle_mesh`.

    Returns
    -------
    Complex
        With node coordinates in ``positions``.
    """
    import meshio

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mesh file {path} does not exist.")
    try:
        with warnings.catch_warnings():
            # meshio's STL reader overflows while guessing binary vs ASCII.
            warnings.simplefilter("ignore", RuntimeWarning)
            mesh = meshio.read(path)
    except (Exception, SystemExit) as error:  # meshio raises many types, and exits on some files
        raise ValueError(f"cannot read mesh file {path}: {type(error).__name__}: {error}") from None
    blocks: dict[str, list[np.ndarray]] = {}
    for block in mesh.cells:
        blocks.setdefault(block.type, []).append(np.asarray(block.data))
    unsupported = sorted(set(blocks) - {"triangle", "tetra", "line", "vertex"})
    if unsupported and not {"triangle", "tetra"} & set(blocks):
        raise ValueError(
            f"mesh file {path} has cell types {unsupported}; topodist reads triangle and "
            "tetrahedral meshes (triangulate quads and polygons first)."
        )
    if "tetra" in blocks:
        build, cells = tetrahedral_mesh, np.concatenate(blocks["tetra"])
    elif "triangle" in blocks:
        build, cells = triangle_mesh, np.concatenate(blocks["triangle"])
    else:
        raise ValueError(f"mesh file {path} has no triangles or tetrahedra.")
    try:
        return build(cells, positions=mesh.points, check_manifold=check_manifold, name=path.stem)
    except ValueError as error:
        raise ValueError(f"mesh file {path}: {error}") from None
