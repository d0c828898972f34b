"""DHGCN layer, as ``topomodelx.nn.hypergraph.dhgcn_layer.DHGCNLayer``.

TopoModelX 0.0.1 takes its k-nearest neighbours and nearest centroids from
torch_cluster; topodist computes them with ``torch.cdist`` (brute force, as
torch_cluster does on the CPU), so torch_cluster is not needed.
"""

import torch

from topodist.base.conv import Conv
from topodist.distributed.readout import gather_cells
from topodist.ops.dense import Linear

__all__ = ["DHGCNLayer", "kmeans_graph", "knn_hyperedges"]


def knn_hyperedges(x: torch.Tensor, k: int) -> torch.Tensor:
    r"""One hyperedge per cell: its ``k`` nearest other cells in feature space (Euclidean).

    What ``torch_cluster.knn_graph(x, k, loop=False, flow="source_to_target")``
    gives; of neighbours at equal distance, the lower index is taken.

    Parameters
    ----------
    x : torch.Tensor, shape = (n_cells, channels)
    k : int

    Returns
    -------
    torch.Tensor, shape = (2, n_cells * k)
        ``(member, hyperedge)`` pairs; hyperedge ``i`` belongs to cell ``i``.
    """
    n_cells = x.shape[0]
    if not 0 < k < n_cells:
        raise ValueError(f"k_neighbours={k} needs 0 < k < the number of nodes ({n_cells}).")
    distances = torch.cdist(x, x)
    distances.fill_diagonal_(torch.inf)
    members = distances.argsort(dim=1, stable=True)[:, :k]
    hyperedges = torch.arange(n_cells, device=x.device).repeat_interleave(k)
    return torch.stack([members.reshape(-1), hyperedges])


def kmeans_graph(x: torch.Tensor, k: int, flow: str = "source_to_target") -> torch.Tensor:
    """TopoModelX's online k-medoids: cells join their nearest medoid one by one in a random order.

    Draws one ``torch.randperm``, as TopoModelX 0.0.1 does, so a seeded run
    clusters as it does. The first ``k`` cells of the permutation start the
    clusters; every other cell joins the cluster of the nearest medoid, whose
    new medoid is then the member with the least mean distance to the others.

    Parameters
    ----------
    x : torch.Tensor, shape = (n_cells, channels)
    k : int
    flow : {"source_to_target", "target_to_source"}, default="source_to_target"

    Returns
    -------
    torch.Tensor, shape = (2, n_cells)
        ``(cell, cluster)`` pairs for ``"source_to_target"``, ``(cluster, cell)`` otherwise.
    """
    if flow not in ("source_to_target", "target_to_source"):
        raise ValueError(f"flow={flow!r}: choose 'source_to_target' or 'target_to_source'.")
    permutation = torch.randperm(x.size(0), device=x.device)
    medoids = permutation[:k].clone()
    clusters = [medoids[i : i + 1] for i in range(k)]
    for new_index in permutation[k:]:
        assigned = int(torch.cdist(x[new_index : new_index + 1], x[medoids]).argmin())
        members = torch.cat([clusters[assigned], new_index.view(1)])
        distances = torch.cdist(x[members], x[members])
        medoids[assigned] = members[int((distances.sum(dim=1) / (members.numel() - 1)).argmin())]
        clusters[assigned] = members
    row = torch.cat([torch.full_like(members, cluster) for cluster, members in enumerate(clusters)])
    col = torch.cat(clusters)
    row, col = (col, row) if flow == "source_to_target" else (row, col)
    return torch.stack([row, col], dim=0)


class DHGCNLayer(torch.nn.Module):
    r"""Dynamic hypergraph convolution: hyperedges built from the features, then a two-step convolution.

    The features :math:`h = x W_{fc} + b` define :math:`n + k_c` hyperedges: for
    each node, its ``k_neighbours`` nearest other nodes; and the ``k_centroids``
    clusters of :func:`kmeans_graph`. With :math:`B` that incidence:
    :math:`x_1 = B^T h W_1`, :math:`x_0 = B x_1 W_2`.

    Distributed: the hyperedges are computed over the features of every part
    (:func:`~topodist.distributed.readout.gather_cells`; every part builds the
    same incidence, the k-means drawing the same permutation from the same
    seed), so a partitioned run equals one device. A part returns its nodes,
    the hyperedges of its nodes, and, on the part of rank 0, the cluster
    hyperedges after them.

    Parameters
    ----------
    in_channels, intermediate_channels, out_channels : int
    k_neighbours : int, default=3
    k_centroids : int, default=4
    device : str, default="cpu"

    References
    ----------
    Jiang, Wei, Feng, Cao and Gao. Dynamic hypergraph neural networks. IJCAI 2019.
    """

    def __init__(
        self,
        in_channels: int,
        intermediate_channels: int,
        out_channels: int,
        k_neighbours: int = 3,
        k_centroids: int = 4,
        device: str = "cpu",
        **kwargs,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.intermediate_channels = intermediate_channels
        self.k_neighbours = k_neighbours
        self.k_centroids = k_centroids
        self.fc_layer = Linear(in_channels, intermediate_channels, bias=True, device=device)
        self.conv_dt_level0_0_to_1 = Conv(in_channels=intermediate_channels, out_channels=intermediate_channels)
        self.conv_dt_level0_1_to_0 = Conv(in_channels=intermediate_channels, out_channels=out_channels)

    kmeans_graph = staticmethod(kmeans_graph)

    def kmeans(self, x_0: torch.Tensor, k: int | None = None) -> torch.Tensor:
        """:func:`kmeans_graph` with ``k_centroids`` clusters; shape = (2, n_nodes)."""
        k = self.k_centroids if k is None else k
        if k > x_0.shape[0]:
            raise ValueError(
                f"There are {x_0.shape[0]} input nodes. The k-means clustering requires at least {k} nodes."
            )
        return kmeans_graph(x_0, k=k, flow="source_to_target")

    def get_dynamic_topology(self, x_0_features: torch.Tensor) -> torch.Tensor:
        """The incidence of the dynamic hyperedges.

        Parameters
        ----------
        x_0_features : torch.Tensor, shape = (n_nodes, intermediate_channels)
            Of every node.

        Returns
        -------
        torch.sparse, shape = (n_nodes, n_nodes + k_centroids)
        """
        features = x_0_features.detach()
        n_nodes = features.shape[0]
        local = knn_hyperedges(features, self.k_neighbours)
        clusters = self.kmeans(features)
        clusters = clusters + torch.tensor([[0], [n_nodes]], device=clusters.device)
        index = torch.cat([local, clusters], dim=1)
        values = torch.ones(index.shape[1], dtype=features.dtype, device=features.device)
        shape = (n_nodes, n_nodes + self.k_centroids)
        return torch.sparse_coo_tensor(index, values, shape, check_invariants=False).coalesce()

    def forward(self, x_0: torch.Tensor, over=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward pass.

        Parameters
        ----------
        x_0 : torch.Tensor, shape = (n_nodes, in_channels)
        over : torch.sparse or PartitionedNeighborhood, optional
            Any neighborhood whose target cells are the nodes (e.g. ``incidence_1``):
            partitioned, it says which nodes ``x_0`` holds and which group to gather over.

        Returns
        -------
        x_0 : torch.Tensor, shape = (n_nodes, out_channels)
        x_1 : torch.Tensor, shape = (n_nodes + k_centroids, intermediate_channels)
            Partitioned: the hyperedges of the owned nodes, then on rank 0 the clusters.
        """
        owned_features = self.fc_layer(x_0)
        features = gather_cells(owned_features, over)
        incidence = self.get_dynamic_topology(features)
        x_1 = self.conv_dt_level0_0_to_1(features, incidence.transpose(1, 0))
        if features is owned_features:  # one device: every node and hyperedge
            return self.conv_dt_level0_1_to_0(x_1, incidence), x_1
        owned = over.target_cells.to(x_0.device)
        x_0 = self.conv_dt_level0_1_to_0(x_1, torch.index_select(incidence, 0, owned).coalesce())
        first = torch.distributed.get_rank(over.group) == 0
        if first:
            owned = torch.cat([owned, torch.arange(features.shape[0], x_1.shape[0], device=owned.device)])
        return x_0, x_1.index_select(0, owned)

    def reset_parameters(self) -> None:
        """Reset the input map and both convolutions."""
        self.fc_layer.reset_parameters()
        self.conv_dt_level0_0_to_1.reset_parameters()
        self.conv_dt_level0_1_to_0.reset_parameters()
