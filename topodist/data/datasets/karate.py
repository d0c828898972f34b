"""Zachary's karate club as a simplicial complex: node classification into the two clubs."""

import numpy as np
import torch

from topodist.data.complex import Complex
from topodist.data.from_toponetx import from_toponetx

__all__ = ["karate_club"]

FEATURE_KEYS = {0: "node_feat", 1: "edge_feat", 2: "face_feat", 3: "tetrahedron_feat"}


def karate_club(feat_dim: int = 2, train_fraction: float = 0.5, seed: int = 0) -> Complex:
    """The clique complex of the karate club graph (TopoNetX's, from networkx's copy).

    Features are TopoNetX's: the first ``feat_dim`` Hodge Laplacian eigenvectors of
    every rank. Node labels are the club each member joined after the split
    (0 = Mr. Hi, 1 = Officer). Masks split the nodes, stratified by club:
    ``train_fraction`` for training, the rest halved into val and test.

    Parameters
    ----------
    feat_dim : int, default=2
        Eigenvectors per cell.
    train_fraction : float, default=0.5
    seed : int, default=0
        Seed of the split.

    Returns
    -------
    Complex
        Ranks 0 to 4.
    """
    import networkx as nx
    import toponetx as tnx

    result = from_toponetx(tnx.datasets.karate_club("simplicial", feat_dim), FEATURE_KEYS, name="karate")
    graph = nx.karate_club_graph()
    clubs = np.array([graph.nodes[node]["club"] != "Mr. Hi" for node in sorted(graph.nodes)], dtype=np.int64)
    result.labels[0] = torch.from_numpy(clubs)
    rng = np.random.default_rng(seed)
    masks = {split: torch.zeros(len(clubs), dtype=torch.bool) for split in ("train", "val", "test")}
    for club in (0, 1):
        members = rng.permutation(np.flatnonzero(clubs == club))
        n_train = int(round(train_fraction * len(members)))
        n_val = (len(members) - n_train) // 2
        masks["train"][members[:n_train]] = True
        masks["val"][members[n_train : n_train + n_val]] = True
        masks["test"][members[n_train + n_val :]] = True
    result.masks = {split: {0: mask} for split, mask in masks.items()}
    result._validate()
    return result
