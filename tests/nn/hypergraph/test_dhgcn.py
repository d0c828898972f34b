"""DHGCN: TopoModelX's layer (torch_cluster calls answered by their definitions) gives our outputs; 3 ranks equal 1."""

import importlib.machinery
import sys
import types

import pytest
import torch

from tests.distributed.harness import run_on_ranks
from tests.nn.hypergraph.test_uni import faces_as_hyperedges
from tests.nn.partitioned import assert_part_equals_whole, random_features
from tests.reference import relative_error
from topodist.data.datasets import random_geometric_complex
from topodist.nn.hypergraph.dhgcn import DHGCN
from topodist.nn.hypergraph.dhgcn_layer import knn_hyperedges


def _knn_graph(x, k, batch=None, loop=False, flow="source_to_target", **kwargs):
    """torch_cluster.knn_graph's definition: the k (+1 with itself) nearest, self-loops then removed."""
    nearest = torch.cdist(x, x).argsort(dim=1, stable=True)[:, : k if loop else k + 1]
    query = torch.arange(x.shape[0]).repeat_interleave(nearest.shape[1])
    row, col = (nearest.reshape(-1), query) if flow == "source_to_target" else (query, nearest.reshape(-1))
    keep = torch.ones_like(row, dtype=torch.bool) if loop else row != col
    return torch.stack([row[keep], col[keep]])


def _nearest(x, y, batch_x=None, batch_y=None):
    return torch.cdist(x, y).argmin(dim=1)


@pytest.fixture
def reference_dhgcn(topomodelx, monkeypatch):
    cluster = types.ModuleType("torch_cluster")
    cluster.__spec__ = importlib.machinery.ModuleSpec("torch_cluster", None)  # torch_geometric looks it up
    cluster.knn_graph, cluster.nearest = _knn_graph, _nearest
    monkeypatch.setitem(sys.modules, "torch_cluster", cluster)
    monkeypatch.delitem(sys.modules, "topomodelx.nn.hypergraph.dhgcn_layer", raising=False)
    monkeypatch.delitem(sys.modules, "topomodelx.nn.hypergraph.dhgcn", raising=False)
    from topomodelx.nn.hypergraph.dhgcn import DHGCN as Reference

    return Reference


@pytest.mark.parametrize(
    ("in_channels", "hidden", "options"), [(3, 4, {}), (8, 16, {"n_layers": 2, "k_neighbours": 5, "k_centroids": 6})]
)
def test_loads_topomodelx_weights_and_matches_its_outputs(reference_dhgcn, in_channels, hidden, options):
    complex_ = faces_as_hyperedges(random_geometric_complex(60, 0.3, seed=4))
    torch.manual_seed(0)
    reference = reference_dhgcn(in_channels, hidden, **options).eval()
    torch.manual_seed(0)
    ours = DHGCN(in_channels, hidden, **options).eval()
    for (name, expected), got in zip(reference.state_dict().items(), ours.state_dict().values(), strict=True):
        assert torch.equal(got, expected), f"{name}: same seed, same initial weights"
    x = random_features(complex_, {0: in_channels})[0]
    torch.manual_seed(5)  # the k-means draws a permutation
    expected = reference(x)
    torch.manual_seed(5)
    for got, want in zip(ours(x), expected, strict=True):
        assert relative_error(got, want) <= 1e-5


def test_knn_hyperedges_are_the_k_nearest_other_nodes():
    x = torch.tensor([[0.0], [1.0], [3.0], [7.0], [15.0]])
    members, hyperedges = knn_hyperedges(x, 2)
    got = {int(e): sorted(int(m) for m, h in zip(members, hyperedges, strict=True) if h == e) for e in range(5)}
    assert got == {0: [1, 2], 1: [0, 2], 2: [0, 1], 3: [1, 2], 4: [2, 3]}
    with pytest.raises(ValueError, match="k_neighbours=5"):
        knn_hyperedges(x, 5)


def same_model_on_a_part(rank, world_size):
    complex_ = faces_as_hyperedges(random_geometric_complex(50, 0.3, seed=3))
    names = ["incidence_1", "incidence_1.T"]

    def forward(model, x, neighborhood):
        torch.manual_seed(11)  # the same k-means permutation on every rank and on the whole hypergraph
        x_0, x_1 = model(x[0], neighborhood("incidence_1"))
        n_nodes = x[0].shape[0]
        return [(0, x_0), (0, x_1[:n_nodes])]  # the hyperedge of node i is row i; the clusters follow

    make = lambda: DHGCN(3, 4, n_layers=2, k_neighbours=4, k_centroids=3)  # noqa: E731
    assert_part_equals_whole(rank, world_size, complex_, names, {0: 3}, make, forward)


def test_three_ranks_equal_one():
    run_on_ranks(same_model_on_a_part, 3)
