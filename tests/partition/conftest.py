"""Complexes the partition tests share: meshes, clique complexes, hypergraphs, odd shapes."""

import numpy as np
import pytest

from topodist.data import simplicial_complex
from topodist.data.datasets import random_geometric_complex, random_hypergraph, torus_mesh
from topodist.data.from_toponetx import from_toponetx


def _cell_complex():
    import toponetx as tnx

    cells = tnx.CellComplex()
    cells.add_cell([0, 1, 2, 3], rank=2)
    cells.add_cell([2, 3, 4], rank=2)
    cells.add_cell([4, 5, 6, 7, 8], rank=2)
    cells.add_node(9)
    return from_toponetx(cells)


def _sparse_corner():
    """A few triangles, a dangling edge and isolated nodes: fewer faces than parts."""
    return simplicial_complex([np.array([[0, 1, 2], [1, 2, 3], [5, 6, 7]]), np.array([[3, 4]])], n_nodes=10)


COMPLEXES = {
    "torus": lambda: torus_mesh(12, 7, seed=1),
    "rgg": lambda: random_geometric_complex(120, 0.15, max_rank=3, seed=2),
    "hypergraph": lambda: random_hypergraph(60, 25, seed=3),
    "cell": _cell_complex,
    "sparse_corner": _sparse_corner,
}


@pytest.fixture(scope="module", params=sorted(COMPLEXES))
def complex_(request):
    return COMPLEXES[request.param]()


def neighborhoods_of(complex_):
    """Incidences both ways plus same-rank neighborhoods the models use."""
    from topodist.partition import default_partition_neighborhoods

    names = default_partition_neighborhoods(complex_)
    if complex_.oriented:
        names += ["hodge_laplacian_0", "adjacency_0", f"coadjacency_{complex_.max_rank}"]
        names += ["down_laplacian_1", "incidence_0_2.T"] if complex_.max_rank >= 2 else []
    else:
        names += ["adjacency_0_1"]
    return names
