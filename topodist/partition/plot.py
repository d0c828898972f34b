"""Pictures of a partition: a mesh coloured by part with its boundary drawn, or owned and halo cells per part.

Rendered with matplotlib's non-interactive Agg backend to PNG bytes, so it works
on a cluster node without a display, and written atomically.
"""

import io
from pathlib import Path

import numpy as np

from topodist.data.complex import Complex
from topodist.data.files import write_atomically
from topodist.partition.plan import Shard

__all__ = ["FIGURE_PIXELS", "partition_layout", "render_partition", "save_partition_plot"]

FIGURE_PIXELS = (800, 600)
_DPI = 100
MAX_DRAWN_FACES = 200_000


def partition_layout(shards: list[Shard]) -> tuple[list[dict], list[dict]]:
    """Owned and halo cells of every part, by rank, from the shards.

    Returns
    -------
    owned_cells, halo_cells : list of dict of int to np.ndarray
        Indexed by part, then by cell rank: global cell ids.
    """
    owned = [dict(shard.owned_cells) for shard in shards]
    halo = [{rank: plan.halo_cells for rank, plan in shard.halo_plans.items()} for shard in shards]
    return owned, halo


def render_partition(complex_: Complex, owned_cells: list[dict], halo_cells: list[dict], title: str = "") -> bytes:
    """A PNG of ``FIGURE_PIXELS`` pixels.

    A mesh (node positions and triangles, at most ``MAX_DRAWN_FACES``) is drawn
    with each face coloured by the part that owns it; boundary faces (held in
    another part's halo, or with a node that is) get a black outline. Anything
    else gets one bar chart per cell rank: owned and halo cells of each part.

    Parameters
    ----------
    complex_ : Complex
    owned_cells, halo_cells : list of dict of int to np.ndarray
        See :func:`partition_layout`.
    title : str, default=""

    Returns
    -------
    bytes
        The PNG file.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(FIGURE_PIXELS[0] / _DPI, FIGURE_PIXELS[1] / _DPI), dpi=_DPI)
    faces = complex_.cells.get(2) if complex_.max_rank >= 2 else None
    is_mesh = (
        complex_.positions is not None
        and faces is not None
        and faces.ndim == 2
        and len(faces) <= MAX_DRAWN_FACES
        and all(2 in part for part in owned_cells)
    )
    if is_mesh:
        _draw_mesh(figure, complex_, faces, owned_cells, halo_cells)
    else:
        _draw_bars(figure, complex_, owned_cells, halo_cells)
    if title:
        figure.suptitle(title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()


def save_partition_plot(
    path, complex_: Complex, owned_cells: list[dict], halo_cells: list[dict], title: str = ""
) -> Path:
    """Render the partition (see :func:`render_partition`) and write it to ``path`` atomically."""
    path = Path(path)
    write_atomically(path, render_partition(complex_, owned_cells, halo_cells, title))
    return path


def _owner(n_cells: int, owned_cells: list[dict], rank: int) -> np.ndarray:
    owner = np.full(n_cells, -1, dtype=np.int64)
    for part, cells in enumerate(owned_cells):
        owner[cells[rank]] = part
    return owner


def _draw_mesh(figure, complex_: Complex, faces: np.ndarray, owned_cells: list[dict], halo_cells: list[dict]) -> None:
    from matplotlib import colormaps

    positions = np.asarray(complex_.positions, dtype=np.float64)
    owner = _owner(len(faces), owned_cells, 2)
    in_halo_nodes = np.zeros(complex_.n_cells[0], dtype=bool)
    in_halo_faces = np.zeros(len(faces), dtype=bool)
    for halo in halo_cells:
        if 0 in halo:
            in_halo_nodes[halo[0]] = True
        if 2 in halo:
            in_halo_faces[halo[2]] = True
    boundary = in_halo_faces | in_halo_nodes[faces].any(axis=1)
    colours = colormaps["tab20"](owner % 20)
    flat = positions.shape[1] == 2 or np.ptp(positions[:, 2]) <= 1e-9 * max(np.ptp(positions), 1e-300)
    polygons = positions[faces][..., :2] if flat else positions[faces][..., :3]
    edge_colours = np.where(boundary[:, None], np.array([[0.0, 0.0, 0.0, 1.0]]), colours)
    widths = np.where(boundary, 0.6, 0.1)
    if flat:
        from matplotlib.collections import PolyCollection

        axes = figure.add_subplot()
        axes.add_collection(PolyCollection(polygons, facecolors=colours, edgecolors=edge_colours, linewidths=widths))
        axes.autoscale_view()
        axes.set_aspect("equal")
    else:
        from mpl_toolkits.mplot3d.art3d import Poly3DCollection

        axes = figure.add_subplot(projection="3d")
        faces_3d = Poly3DCollection(polygons, facecolors=colours, edgecolors=edge_colours, linewidths=widths)
        axes.add_collection3d(faces_3d)
        low, high = positions.min(axis=0), positions.max(axis=0)
        axes.set_xlim(low[0], high[0])
        axes.set_ylim(low[1], high[1])
        axes.set_zlim(low[2], high[2])
        axes.set_box_aspect(np.maximum(high - low, 1e-9))
    axes.set_axis_off()
    n_boundary = int(boundary.sum())
    axes.set_title(f"{len(owned_cells)} parts; {n_boundary:,} of {len(faces):,} faces on a boundary (outlined)")


def _draw_bars(figure, complex_: Complex, owned_cells: list[dict], halo_cells: list[dict]) -> None:
    ranks = sorted(owned_cells[0])
    parts = np.arange(len(owned_cells))
    for index, rank in enumerate(ranks):
        axes = figure.add_subplot(len(ranks), 1, index + 1)
        owned = [len(cells[rank]) for cells in owned_cells]
        halo = [len(cells.get(rank, ())) for cells in halo_cells]
        axes.bar(parts - 0.2, owned, width=0.4, label="owned")
        axes.bar(parts + 0.2, halo, width=0.4, label="halo")
        axes.set_ylabel(f"rank {rank} cells")
        axes.set_xticks(parts)
        if index == 0:
            axes.legend(loc="upper right")
    figure.axes[-1].set_xlabel("part")
