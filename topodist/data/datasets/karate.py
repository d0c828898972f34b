"""Zachary's karate club as a simplicial complex: node classification into the two clubs."""

import numpy as np
import torch

from topodist.data.complex import Complex
from topodist.data.from_toponetx import from_toponetx

__all__ = ["karate_club"]



def karate_club(feat_dim: int = 2, train_fraction: float = 0.5, seed: int = 0) -> Complex:
    r"""The clique complex of the karate club graph (TopoNetX's, from networkx's copy).

    Features are, as in TopoNetX's ``karate_club``, the ``feat_dim`` eigenvectors
    of the smallest eigenvalues of :math:`L_k v = \lambda \, \mathrm{diag}(L_k) v` for
    every rank ``k``, but computed densely and with the sign that makes each
    vector's largest entry positive, so that they are the same on every run
    (TopoNetX's ARPACK start vector is random). Node labels are the club each
    member joined after the split (0 = Mr. Hi, 1 = Officer). Masks split the nodes, stratified by club:
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

    graph = nx.karate_club_graph()
    result = from_toponetx(tnx.transform.graph_to_clique_complex(graph), name="karate")
    for rank in range(result.max_rank + 1):
        result.features[rank] = _hodge_eigenvectors(result.matrix(f"hodge_laplacian_{rank}"), feat_dim)
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


def _hodge_eigenvectors(laplacian, feat_dim: int) -> torch.Tensor:
    """Deterministic generalized eigenvectors of the smallest eigenvalues, one row per cell."""
    from scipy.linalg import eigh

    dense = laplacian.toarray()
    _, vectors = eigh(dense, np.diag(np.diag(dense)))
    vectors = vectors[:, :feat_dim]
    largest = vectors[np.abs(vectors).argmax(axis=0), np.arange(vectors.shape[1])]
    vectors = vectors * np.where(largest < 0, -1.0, 1.0)
    padded = np.zeros((dense.shape[0], feat_dim))
    padded[:, : vectors.shape[1]] = vectors
    return torch.from_numpy(padded.astype(np.float32))
