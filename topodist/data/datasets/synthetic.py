"""Synthetic complexes of any size with learnable tasks, deterministic by seed.

Meshes (planar grid, torus, icosphere) and random geometric clique complexes
carry a smooth scalar field ``f`` on their nodes. Tasks:

- node classification: ``n_classes`` quantile bins of ``f``; node features are
  ``[f + noise, 1]``, so one node's feature is often wrong and its neighbors'
  average is right; with ``n_classes=0``, node regression: the label is ``f``
  itself (float) and the edge label the clean rise below;
- edge-flow classification: whether ``f`` increases along an edge's orientation
  (lower to higher node id); edge features ``[f(v_1) - f(v_0) + noise, 1]``.

Cells of rank 2 and higher carry features ``[mean of f over their nodes + noise, 1]``
(no labels), for models that read every rank.

Random hypergraphs have planted communities: node labels are the community,
hyperedges mostly stay inside one, and node features are noisy one-hot codes.
Train/val/test masks are a seeded 60/20/20 split of every labelled rank.
"""

import numpy as np
import scipy.sparse as sp
import torch

from topodist.data.builders import clique_complex, triangle_mesh
from topodist.data.complex import Complex
from topodist.data.hypergraphs import hypergraph

__all__ = [
    "cell_torus",
    "combinatorial_torus",
    "grid_mesh",
    "icosphere_mesh",
    "random_geometric_complex",
    "random_hypergraph",
    "torus_mesh",
]


def grid_mesh(side: int, noise: float = 1.0, n_classes: int = 2, seed: int = 0) -> Complex:
    """Triangulated planar ``side x side`` grid of the unit square.

    Parameters
    ----------
    side : int
        Nodes per side (>= 2); ``2 (side - 1)^2`` triangles.
    noise : float, default=1.0
        Standard deviation of the feature noise.
    n_classes : int, default=2
        Node classes; 0 for regression targets (the clean field and its rise along edges).
    seed : int, default=0

    Returns
    -------
    Complex
    """
    if side < 2:
        raise ValueError(f"side={side} must be at least 2.")
    ids = np.arange(side * side).reshape(side, side)
    a, b, c, d = ids[:-1, :-1].ravel(), ids[:-1, 1:].ravel(), ids[1:, :-1].ravel(), ids[1:, 1:].ravel()
    faces = np.concatenate([np.stack([a, b, d], 1), np.stack([a, c, d], 1)])
    u, v = np.meshgrid(np.linspace(0, 1, side), np.linspace(0, 1, side), indexing="ij")
    positions = np.stack([u.ravel(), v.ravel(), np.zeros(side * side)], axis=1)
    field = np.sin(2 * np.pi * positions[:, 0]) * np.cos(3 * np.pi * positions[:, 1])
    return _with_tasks(triangle_mesh(faces, positions, name=f"grid-{side}"), field, noise, n_classes, seed)


def torus_mesh(
    n_major: int, n_minor: int, noise: float = 1.0, n_classes: int = 2, seed: int = 0
) -> Complex:
    """Triangulated torus with ``n_major x n_minor`` nodes (``2 n_major n_minor`` triangles).

    Parameters
    ----------
    n_major, n_minor : int
        Nodes around the major and the minor circle (>= 3 each).
    noise : float, default=1.0
    n_classes : int, default=2
    seed : int, default=0

    Returns
    -------
    Complex
    """
    _, positions, field, squares = _torus_grid(n_major, n_minor)
    faces = np.concatenate([squares[:, [0, 1, 2]], squares[:, [0, 2, 3]]])  # each square, cut along a diagonal
    name = f"torus-{n_major}x{n_minor}"
    return _with_tasks(triangle_mesh(faces, positions, name=name), field, noise, n_classes, seed)


def _torus_grid(n_major: int, n_minor: int):
    """Nodes, positions, a smooth field and the grid's squares (corners in boundary order) of a torus."""
    if n_major < 3 or n_minor < 3:
        raise ValueError(f"n_major={n_major} and n_minor={n_minor} must be at least 3.")
    i, j = np.meshgrid(np.arange(n_major), np.arange(n_minor), indexing="ij")
    i, j = i.ravel(), j.ravel()
    node = lambda i, j: (i % n_major) * n_minor + (j % n_minor)  # noqa: E731
    squares = np.stack([node(i, j), node(i + 1, j), node(i + 1, j + 1), node(i, j + 1)], 1)
    theta, phi = 2 * np.pi * i / n_major, 2 * np.pi * j / n_minor
    radius = 1.0 + 0.4 * np.cos(phi)
    positions = np.stack([radius * np.cos(theta), radius * np.sin(theta), 0.4 * np.sin(phi)], axis=1)
    field = np.sin(3 * theta) + np.cos(phi)
    return n_major * n_minor, positions, field, squares


def _square_torus(n_major: int, n_minor: int):
    """:func:`_torus_grid`, with the edges (sorted node pairs) and each square's boundary edges and their signs."""
    n_nodes, positions, field, squares = _torus_grid(n_major, n_minor)
    a, b, c, d = squares.T  # a -> b runs along the major circle, a -> d along the minor one
    # the edge a -> b of square s has id s; the edge a -> d has id n_nodes + s (square s has corner a = node s)
    edges = np.sort(np.concatenate([np.stack([a, b], 1), np.stack([a, d], 1)]), axis=1)
    square_of = np.empty(n_nodes, dtype=np.int64)
    square_of[a] = np.arange(n_nodes)  # the square whose first corner is a node
    boundary = np.stack([square_of[a], n_nodes + square_of[b], square_of[d], n_nodes + square_of[a]], 1)
    signs = np.where(edges[boundary, 0] == squares, 1.0, -1.0)  # +1 where the boundary walks from the edge's start
    return n_nodes, positions, field, edges, squares, boundary, signs


def cell_torus(n_major: int, n_minor: int, noise: float = 1.0, n_classes: int = 2, seed: int = 0) -> Complex:
    """Cell complex of a torus grid: ``n_major x n_minor`` nodes, twice as many edges, one square face per cell.

    A regular cell complex that is not simplicial: its 2-cells have four
    edges. Signed boundary incidences (edges ``u < v`` run from ``u`` to ``v``;
    a square's boundary runs through its corners in ``cells[2]`` order), so
    Hodge Laplacians and the ``B1 B2 = 0`` identity hold. Tasks as
    :func:`torus_mesh`: node classes from a smooth field, edge classes from its
    rise along each edge, features its noisy values.

    Parameters
    ----------
    n_major, n_minor : int
        Nodes around the major and the minor circle (>= 3 each).
    noise : float, default=1.0
    n_classes : int, default=2
    seed : int, default=0

    Returns
    -------
    Complex
        ``kind == "cell"``.
    """
    n_nodes, positions, field, edges, squares, boundary, signs = _square_torus(n_major, n_minor)
    n_edges, n_squares = len(edges), len(squares)
    rows = np.arange(n_edges).repeat(2)
    incidence_1 = sp.csr_array(
        (np.tile([-1.0, 1.0], n_edges), (edges.ravel(), rows)), shape=(n_nodes, n_edges)
    )
    incidence_2 = sp.csr_array(
        (signs.ravel(), (boundary.ravel(), np.arange(n_squares).repeat(4))), shape=(n_edges, n_squares)
    )
    result = Complex(
        "cell", [n_nodes, n_edges, n_squares], {(0, 1): incidence_1, (1, 2): incidence_2},
        positions=torch.from_numpy(positions.astype(np.float32)), cells={1: edges, 2: squares},
        name=f"cell-torus-{n_major}x{n_minor}",
    )
    return _with_tasks(result, field, noise, n_classes, seed)


def combinatorial_torus(
    n_major: int, n_minor: int, noise: float = 1.0, n_classes: int = 2, seed: int = 0
) -> Complex:
    """Combinatorial complex of a torus grid: nodes, edges (rank 1) and squares (rank 2) as node sets.

    The cells of :func:`cell_torus` without orientation: incidences are 0/1
    node memberships, and ``incidence_2`` is "edge inside square". Tasks and
    features as :func:`cell_torus`.

    Parameters
    ----------
    n_major, n_minor : int
    noise : float, default=1.0
    n_classes : int, default=2
    seed : int, default=0

    Returns
    -------
    Complex
        ``kind == "combinatorial"``.
    """
    n_nodes, positions, field, edges, squares, _, _ = _square_torus(n_major, n_minor)
    membership = {
        (0, rank): sp.csr_array(
            (np.ones(cells.size), (cells.ravel(), np.arange(len(cells)).repeat(cells.shape[1]))),
            shape=(n_nodes, len(cells)),
        )
        for rank, cells in ((1, edges), (2, squares))
    }
    result = Complex(
        "combinatorial", [n_nodes, len(edges), len(squares)], membership,
        positions=torch.from_numpy(positions.astype(np.float32)), cells={1: edges, 2: squares},
        name=f"combinatorial-torus-{n_major}x{n_minor}",
    )
    return _with_tasks(result, field, noise, n_classes, seed)


def icosphere_mesh(subdivisions: int, noise: float = 1.0, n_classes: int = 2, seed: int = 0) -> Complex:
    """Icosphere: an icosahedron subdivided ``subdivisions`` times (``20 * 4^s`` triangles).

    Parameters
    ----------
    subdivisions : int
        Number of 1-to-4 subdivisions (>= 0).
    noise : float, default=1.0
    n_classes : int, default=2
    seed : int, default=0

    Returns
    -------
    Complex
    """
    if subdivisions < 0:
        raise ValueError(f"subdivisions={subdivisions} must be non-negative.")
    positions, faces = _icosahedron()
    for _ in range(subdivisions):
        positions, faces = _subdivide(positions, faces)
    field = np.sin(3 * positions[:, 0]) + positions[:, 1] * positions[:, 2] * 3
    name = f"icosphere-{subdivisions}"
    return _with_tasks(triangle_mesh(faces, positions, name=name), field, noise, n_classes, seed)


def random_geometric_complex(
    n_nodes: int,
    radius: float,
    max_rank: int = 2,
    noise: float = 1.0,
    n_classes: int = 2,
    seed: int = 0,
) -> Complex:
    """Clique complex of a random geometric graph in the unit square.

    Parameters
    ----------
    n_nodes : int
        Number of uniformly drawn points.
    radius : float
        Points closer than ``radius`` are joined by an edge.
    max_rank : {1, 2, 3}, default=2
    noise : float, default=1.0
    n_classes : int, default=2
    seed : int, default=0

    Returns
    -------
    Complex
    """
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    points = rng.random((n_nodes, 2))
    edges = cKDTree(points).query_pairs(radius, output_type="ndarray")
    positions = np.concatenate([points, np.zeros((n_nodes, 1))], axis=1)
    result = clique_complex(edges, n_nodes, max_rank, positions, name=f"rgg-{n_nodes}")
    field = np.sin(2 * np.pi * points[:, 0]) * np.cos(2 * np.pi * points[:, 1])
    return _with_tasks(result, field, noise, n_classes, seed)


def random_hypergraph(
    n_nodes: int,
    n_hyperedges: int,
    n_communities: int = 3,
    edge_size: tuple[int, int] = (2, 6),
    p_within: float = 0.9,
    noise: float = 1.0,
    seed: int = 0,
) -> Complex:
    """Hypergraph with planted communities; node labels are the communities.

    Node features are the one-hot communities plus Gaussian noise; hyperedge
    features ``[size / edge_size[1], 1]``.

    Parameters
    ----------
    n_nodes, n_hyperedges : int
    n_communities : int, default=3
    edge_size : (int, int), default=(2, 6)
        Smallest and largest hyperedge size.
    p_within : float, default=0.9
        Probability that a hyperedge draws its nodes from one community.
    noise : float, default=1.0
        Standard deviation of the noise on the one-hot features.
    seed : int, default=0

    Returns
    -------
    Complex
    """
    rng = np.random.default_rng(seed)
    community = rng.integers(0, n_communities, n_nodes)
    by_community = np.argsort(community, kind="stable")
    counts = np.bincount(community, minlength=n_communities)
    offsets = np.cumsum(counts) - counts
    sizes = rng.integers(edge_size[0], edge_size[1] + 1, n_hyperedges)
    home = rng.integers(0, n_communities, n_hyperedges)
    within = (rng.random(n_hyperedges) < p_within) & (counts[home] >= sizes)
    draws = rng.integers(0, 2**62, (n_hyperedges, 3 * edge_size[1]))
    pool_size = np.where(within, counts[home], n_nodes)[:, None]
    picked = draws % pool_size
    in_community = np.where(within[:, None], offsets[home][:, None] + picked, 0)
    nodes = np.where(within[:, None], by_community[in_community], picked)
    # keep the first `size` distinct draws in draw order (taking the smallest ids instead would leave
    # the nodes late in each community out of every hyperedge)
    order = np.argsort(nodes, axis=1, kind="stable")
    ordered = np.take_along_axis(nodes, order, axis=1)
    first = np.ones_like(ordered, dtype=bool)
    first[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    fresh = np.empty_like(first)
    np.put_along_axis(fresh, order, first, axis=1)
    keep = fresh & (np.cumsum(fresh, axis=1) <= sizes[:, None])
    nodes = np.sort(np.where(keep, nodes, n_nodes), axis=1)  # members first, in increasing order
    keep = np.sort(keep, axis=1)[:, ::-1]
    indptr = np.concatenate([[0], np.cumsum(keep.sum(axis=1))])
    hyperedges = (indptr, nodes[keep])
    result = hypergraph(hyperedges, n_nodes=n_nodes, name=f"hypergraph-{n_nodes}")
    features = np.eye(n_communities)[community] + noise * rng.standard_normal((n_nodes, n_communities))
    result.features[0] = torch.from_numpy(features.astype(np.float32))
    result.labels[0] = torch.from_numpy(community)
    # hyperedges (for the models that read them, e.g. HMPNN): [size / largest size, 1]; no random draw,
    # so the node features, labels and splits stay those of earlier versions
    size = np.diff(indptr) / edge_size[1]
    result.features[1] = torch.from_numpy(np.stack([size, np.ones_like(size)], axis=1).astype(np.float32))
    _split(result, 0, rng)
    return result


def _with_tasks(result: Complex, field: np.ndarray, noise: float, n_classes: int, seed: int) -> Complex:
    rng = np.random.default_rng(seed)
    n_nodes = result.n_cells[0]
    if n_classes < 0:
        raise ValueError(f"n_classes={n_classes} must be positive, or 0 for regression targets.")
    if n_classes == 0:
        result.labels[0] = torch.from_numpy(field.astype(np.float32))
    else:
        bins = np.quantile(field, np.linspace(0, 1, n_classes + 1)[1:-1])
        result.labels[0] = torch.from_numpy(np.digitize(field, bins))
    noisy = field + noise * field.std() * rng.standard_normal(n_nodes)
    result.features[0] = torch.from_numpy(np.stack([noisy, np.ones(n_nodes)], 1).astype(np.float32))
    _split(result, 0, rng)
    if result.max_rank >= 1 and 1 in result.cells:
        edges = result.cells[1]
        rise = field[edges[:, 1]] - field[edges[:, 0]]
        edge_labels = rise.astype(np.float32) if n_classes == 0 else (rise > 0).astype(np.int64)
        result.labels[1] = torch.from_numpy(edge_labels)
        noisy_rise = rise + noise * rise.std() * rng.standard_normal(len(rise))
        result.features[1] = torch.from_numpy(
            np.stack([noisy_rise, np.ones(len(rise))], 1).astype(np.float32)
        )
        _split(result, 1, rng)
    for rank in range(2, result.max_rank + 1):
        if rank in result.cells:
            mean = field[result.cells[rank]].mean(axis=1)
            noisy_mean = mean + noise * field.std() * rng.standard_normal(len(mean))
            result.features[rank] = torch.from_numpy(np.stack([noisy_mean, np.ones(len(mean))], 1).astype(np.float32))
    result._validate()
    return result


def _split(result: Complex, rank: int, rng: np.random.Generator) -> None:
    n = result.n_cells[rank]
    order = rng.permutation(n)
    cut_train, cut_val = int(0.6 * n), int(0.8 * n)
    for split, chosen in (("train", order[:cut_train]), ("val", order[cut_train:cut_val]), ("test", order[cut_val:])):
        mask = torch.zeros(n, dtype=torch.bool)
        mask[torch.from_numpy(chosen)] = True
        result.masks.setdefault(split, {})[rank] = mask


def _icosahedron() -> tuple[np.ndarray, np.ndarray]:
    t = (1 + 5**0.5) / 2
    positions = np.array(
        [[-1, t, 0], [1, t, 0], [-1, -t, 0], [1, -t, 0], [0, -1, t], [0, 1, t],
         [0, -1, -t], [0, 1, -t], [t, 0, -1], [t, 0, 1], [-t, 0, -1], [-t, 0, 1]],
        dtype=np.float64,
    )
    faces = np.array(
        [[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4],
         [11, 10, 2], [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8],
         [3, 8, 9], [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1]]
    )
    return positions / np.linalg.norm(positions, axis=1, keepdims=True), faces


def _subdivide(positions: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split every triangle in four through its edge midpoints, projected to the sphere."""
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    unique, inverse = np.unique(edges, axis=0, return_inverse=True)
    midpoints = positions[unique].mean(axis=1)
    midpoints /= np.linalg.norm(midpoints, axis=1, keepdims=True)
    mid = inverse.reshape(3, -1) + len(positions)
    a, b, c = faces.T
    ab, bc, ca = mid
    new_faces = np.concatenate(
        [np.stack(f, 1) for f in ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))]
    )
    return np.concatenate([positions, midpoints]), new_faces
