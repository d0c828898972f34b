"""Partition pictures: valid PNGs of the promised size, a mesh in its parts' colours, bars otherwise."""

import io
import os

import numpy as np
import pytest

from topodist.data.datasets import grid_mesh, random_hypergraph
from topodist.partition import assign_cells, build_shards, default_partition_neighborhoods
from topodist.partition.plot import FIGURE_PIXELS, partition_layout, render_partition, save_partition_plot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def layout(complex_, world_size):
    names = default_partition_neighborhoods(complex_)
    return partition_layout(build_shards(complex_, assign_cells(complex_, world_size, "metis", names), names, world_size))


def pixels(data: bytes) -> np.ndarray:
    import matplotlib.image

    return (matplotlib.image.imread(io.BytesIO(data), format="png")[..., :3] * 255).round().astype(int)


def has_colour(image: np.ndarray, rgb) -> bool:
    return bool((np.abs(image - np.array(rgb)).max(axis=-1) <= 2).any())


def test_mesh_picture_shows_every_part_in_its_colour_and_outlines_the_boundary(tmp_path):
    from matplotlib import colormaps

    complex_ = grid_mesh(12)
    owned, halo = layout(complex_, 3)
    path = save_partition_plot(tmp_path / "parts.png", complex_, owned, halo, title="grid")
    data = path.read_bytes()
    assert png_size(data) == FIGURE_PIXELS
    assert [p.name for p in tmp_path.iterdir()] == ["parts.png"]  # written atomically: no temporary left
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # as open() would create it
    image = pixels(data)
    for part in range(3):
        assert has_colour(image, [round(255 * c) for c in colormaps["tab20"](part)[:3]]), f"part {part}"
    assert not has_colour(image, [round(255 * c) for c in colormaps["tab20"](3)[:3]])
    assert has_colour(image, [0, 0, 0])  # boundary outlines
    one_part = render_partition(complex_, *layout(complex_, 1))
    assert not has_colour(pixels(one_part)[80:, :], [0, 0, 0])  # one part: no boundary (below the title)


def test_other_complexes_get_owned_and_halo_bars():
    complex_ = random_hypergraph(120, 40, seed=0)
    data = render_partition(complex_, *layout(complex_, 2))
    assert png_size(data) == FIGURE_PIXELS
    image = pixels(data)
    assert has_colour(image, [31, 119, 180]) and has_colour(image, [255, 127, 14])  # owned and halo bars


def test_a_failed_write_keeps_the_previous_picture(tmp_path, monkeypatch):
    complex_ = grid_mesh(6)
    owned, halo = layout(complex_, 2)
    path = save_partition_plot(tmp_path / "parts.png", complex_, owned, halo)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("os.fsync", broken)
    with pytest.raises(OSError, match="disk full"):
        save_partition_plot(path, complex_, owned, halo, title="new")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["parts.png"]
