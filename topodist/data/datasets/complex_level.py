"""Many small complexes with one label each: is a random mesh a sphere or a torus?"""

import numpy as np
import torch

from topodist.data.complex import Complex
from topodist.data.datasets.synthetic import icosphere_mesh, torus_mesh

__all__ = ["mesh_genus_dataset"]


def mesh_genus_dataset(n_complexes: int, noise: float = 0.05, seed: int = 0) -> list[Complex]:
    """Random spheres (label 0) and tori (label 1) of similar size, for complex classification.

    Spheres are once-subdivided icospheres (42 nodes, 80 triangles); tori have
    7 to 9 by 5 to 6 nodes (70 to 108 triangles). Every mesh is randomly
    rotated, scaled and jittered; node features are its node coordinates plus
    Gaussian noise of standard deviation ``noise``. Labels alternate, so any
    prefix of the list is balanced.

    Parameters
    ----------
    n_complexes : int
    noise : float, default=0.05
    seed : int, default=0

    Returns
    -------
    list of Complex
        Each with ``complex_label`` set and ``features[0]`` of shape ``(n_nodes, 3)``.
    """
    rng = np.random.default_rng(seed)
    dataset = []
    for index in range(n_complexes):  # one small complex per item
        if index % 2 == 0:
            mesh = icosphere_mesh(1, seed=seed + index)
        else:
            mesh = torus_mesh(int(rng.integers(7, 10)), int(rng.integers(5, 7)), seed=seed + index)
        rotation, _ = np.linalg.qr(rng.standard_normal((3, 3)))
        points = mesh.positions.numpy() @ rotation.T * rng.uniform(0.5, 2.0)
        points = points + noise * rng.standard_normal(points.shape)
        dataset.append(
            Complex(
                mesh.kind,
                mesh.n_cells,
                mesh.incidences,
                features={0: torch.from_numpy(points.astype(np.float32))},
                complex_label=index % 2,
                positions=torch.from_numpy(points),
                cells=mesh.cells,
                name=f"{'sphere' if index % 2 == 0 else 'torus'}-{index}",
            )
        )
    return dataset
