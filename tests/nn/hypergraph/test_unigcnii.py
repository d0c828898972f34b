"""UniGCNII: TopoModelX's outputs with sparse degree normalization; exact on 3 ranks with dropout; isolated nodes refused on every rank."""

import pytest
import torch

from tests.distributed.harness import run_on_ranks
from tests.nn.hypergraph.test_uni import HYPERGRAPHS, assert_hypergraph_models_part_equal_whole, faces_as_hyperedges
from tests.nn.partitioned import random_features
from tests.reference import relative_error
from topodist.data.datasets import icosphere_mesh
from topodist.data.hypergraphs import hypergraph
from topodist.distributed import PartitionedComplex
from topodist.nn.hypergraph.unigcnii import UniGCNII
from topodist.partition import assign_cells, build_shards


@pytest.mark.parametrize("hypergraph_name", sorted(HYPERGRAPHS))
@pytest.mark.parametrize(("in_channels", "hidden", "use_norm"), [(3, 4, False), (8, 16, True)])
def test_loads_topomodelx_weights_and_matches_its_outputs(topomodelx, hypergraph_name, in_channels, hidden, use_norm):
    from topomodelx.nn.hypergraph.unigcnii import UniGCNII as ReferenceUniGCNII

    complex_ = HYPERGRAPHS[hypergraph_name]()
    torch.manual_seed(0)
    reference = ReferenceUniGCNII(in_channels, hidden, n_layers=3, alpha=0.3, use_norm=use_norm).eval()
    ours = UniGCNII(in_channels, hidden, n_layers=3, alpha=0.3, use_norm=use_norm).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    incidence = complex_.neighborhood("incidence_1")
    x = random_features(complex_, {0: in_channels})[0]
    for got, expected in zip(ours(x, incidence), reference(x, incidence), strict=True):
        assert relative_error(got, expected) <= 1e-5


def nodes_without_hyperedges_fail_on_every_rank(rank, world_size):
    complex_ = hypergraph([[0, 1, 2], [2, 3, 4], [4, 5, 0], [6, 7, 8], [8, 9, 6]], n_nodes=12)  # 10, 11: no hyperedge
    names = ["incidence_1", "incidence_1.T"]
    shard = build_shards(complex_, assign_cells(complex_, world_size, "contiguous", names), names, world_size)[rank]
    part = PartitionedComplex(shard)
    model = UniGCNII(2, 3)
    with pytest.raises(ValueError, match=r"2 node\(s\) in no hyperedge"):
        model(torch.zeros(len(shard.owned_cells[0]), 2), part.neighborhood("incidence_1"))


def same_model_on_a_part(rank, world_size):
    complex_ = faces_as_hyperedges(icosphere_mesh(2))  # every node in a hyperedge
    make = lambda: UniGCNII(3, 4, alpha=0.4, input_drop=0.2, layer_drop=0.3, use_norm=True).train()  # noqa: E731
    assert_hypergraph_models_part_equal_whole(rank, world_size, [make], complex_)
    nodes_without_hyperedges_fail_on_every_rank(rank, world_size)


def test_three_ranks_equal_one_with_dropout_and_refuse_isolated_nodes_together():
    run_on_ranks(same_model_on_a_part, 3)
