"""Partitioned neighborhoods behave like the torch sparse matrices they stand for."""

import pytest
import torch

from tests.distributed.harness import run_on_ranks
from tests.nn.partitioned import assert_part_equals_whole
from tests.reference import reference_counting_only, relative_error
from topodist.base.conv import Conv
from topodist.data.datasets import random_geometric_complex, torus_mesh
from topodist.distributed import PartitionedComplex
from topodist.distributed.chain import NeighborhoodChain
from topodist.nn.simplicial.scnn import SCNN
from topodist.partition import assign_cells, build_shards
from topodist.partition.product_forms import choose_product_forms, matrices_to_partition

NAMES = [
    "adjacency_1", "hodge_laplacian_1", "down_laplacian_1", "up_laplacian_1", "incidence_2", "incidence_1", "incidence_1.T"
]


def check_algebra(rank, world_size):
    complex_ = torus_mesh(8, 5, seed=2)
    shard = build_shards(complex_, assign_cells(complex_, world_size, "random", seed=1), NAMES, world_size)[rank]
    partitioned = PartitionedComplex(shard, dtype=torch.float64)
    part = {name: partitioned.neighborhood(name) for name in NAMES}
    whole = {name: complex_.neighborhood(name, dtype=torch.float64) for name in NAMES}
    rows = torch.from_numpy(shard.owned_cells[1])
    x = torch.randn(complex_.n_cells[1], 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x_owned = x[rows]

    def same(actual, expected):
        assert relative_error(actual, expected[rows]) <= 1e-12

    same((part["down_laplacian_1"] + part["up_laplacian_1"]) @ x_owned, whole["hodge_laplacian_1"] @ x)
    same((part["hodge_laplacian_1"] - part["up_laplacian_1"]) @ x_owned, whole["down_laplacian_1"] @ x)
    same((part["adjacency_1"] * part["hodge_laplacian_1"]) @ x_owned, (whole["adjacency_1"] * whole["hodge_laplacian_1"]) @ x)
    same((0.5 * part["adjacency_1"]) @ x_owned, 0.5 * (whole["adjacency_1"] @ x))
    same(torch.sparse.sum(part["adjacency_1"], dim=1), torch.sparse.sum(whole["adjacency_1"], dim=1).to_dense())
    degree = torch.sparse.sum(whole["adjacency_1"], dim=1).to_dense()
    same(part["adjacency_1"].row_normalized() @ x_owned, (whole["adjacency_1"] @ x) / degree.unsqueeze(-1))
    same(torch.mm(part["adjacency_1"], x_owned), whole["adjacency_1"] @ x)
    same(torch.matmul(part["adjacency_1"], x_owned), whole["adjacency_1"] @ x)
    # chained products, each through its own exchange
    same(part["adjacency_1"] @ (part["hodge_laplacian_1"] @ x_owned), whole["adjacency_1"] @ (whole["hodge_laplacian_1"] @ x))
    # leading batch dimensions, through a product and through a layer
    batch = torch.randn(2, complex_.n_cells[1], 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    same_batch = relative_error(part["adjacency_1"] @ batch[:, rows], torch.stack([whole["adjacency_1"] @ b for b in batch])[:, rows])
    assert same_batch <= 1e-12
    torch.manual_seed(0)
    conv = Conv(3, 2, att=True).double()
    assert relative_error(conv(batch[:, rows], part["adjacency_1"]), conv(batch, whole["adjacency_1"])[:, rows]) <= 1e-12

    assert part["adjacency_1"].shape == (len(rows), len(rows))
    assert part["incidence_2"].shape == (len(rows), len(shard.owned_cells[2]))
    with pytest.raises(ValueError, match=r"transpose of incidence_2 was not partitioned.*'incidence_2.T'"):
        part["incidence_2"].T
    # products of neighborhoods stay factored and equal the assembled product
    down = part["incidence_1"].transpose(1, 0) @ part["incidence_1"]
    assert down.shape == (len(rows), len(rows))
    same(down @ x_owned, whole["down_laplacian_1"] @ x)
    same(torch.mm(down @ part["hodge_laplacian_1"], x_owned), whole["down_laplacian_1"] @ (whole["hodge_laplacian_1"] @ x))
    same(part["incidence_1"].T.add(part["incidence_1"].T) @ part["incidence_1"] @ x_owned, 2 * (whole["down_laplacian_1"] @ x))
    with pytest.raises(ValueError, match="cannot chain"):
        part["incidence_2"] @ part["incidence_1"]
    with pytest.raises(ValueError, match="map different ranks or parts"):
        part["adjacency_1"] + part["incidence_2"]
    with pytest.raises(TypeError, match=r"torch.addmm is not supported on a PartitionedNeighborhood"):
        torch.addmm(x_owned, part["adjacency_1"], x_owned)
    with pytest.raises(KeyError, match="'coadjacency_2' was not partitioned"):
        partitioned.neighborhood("coadjacency_2")


def test_sums_products_normalization_and_errors():
    run_on_ranks(check_algebra, 3)


FACTORED = ["scaled_down_laplacian_1", "scaled_up_laplacian_1"]


def factored_scnn_on_a_part(rank, world_size):
    complex_ = random_geometric_complex(80, 0.2, seed=3)
    forms = choose_product_forms(complex_, FACTORED, "factored")

    def forward(model, x, neighborhood):
        partitioned = getattr(neighborhood, "__self__", None)
        if isinstance(partitioned, PartitionedComplex):  # this part: each Laplacian as its two incidences
            laplacians = [partitioned.product(forms[name].factors, forms[name].scale) for name in FACTORED]
            assert all(isinstance(laplacian, NeighborhoodChain) for laplacian in laplacians)
            rows = torch.from_numpy(partitioned.owned_cells[1])
            for name, laplacian in zip(FACTORED, laplacians):
                whole = complex_.neighborhood(name, dtype=torch.float64)
                sums = torch.sparse.sum(laplacian, dim=1)
                assert relative_error(sums, torch.sparse.sum(whole, dim=1).to_dense()[rows]) <= 1e-12
        else:  # the whole complex: the assembled matrices
            laplacians = [neighborhood(name) for name in FACTORED]
        return [(1, model(x[1], *laplacians))]

    assert_part_equals_whole(
        rank, world_size, complex_, matrices_to_partition(FACTORED, forms), {1: 3},
        lambda: SCNN(3, 4, 2, 2, update_func="sigmoid", n_layers=2),
        forward,
    )


def test_factored_laplacians_on_three_parts_equal_the_assembled_ones_on_the_whole():
    """SCNN's polynomial filters through B^T (B x), in value and gradient, and the chains' row sums.

    Not SCNN's ``aggr_norm``: the row sums of a signed Laplacian cancel to zero or
    to rounding noise depending on the order of the sum, and it divides by them.
    """
    run_on_ranks(factored_scnn_on_a_part, 3)


def check_factored_laplacian_in_a_layer_reading_entries(rank, world_size):
    complex_ = torus_mesh(6, 5, seed=0)
    shard = build_shards(complex_, assign_cells(complex_, world_size, "metis", seed=0),
                         ["incidence_1", "incidence_1.T"], world_size)[rank]
    down = PartitionedComplex(shard).product(("incidence_1.T", "incidence_1"))
    x = torch.randn(len(shard.owned_cells[1]), 3)
    with pytest.raises(TypeError, match=r"kept factored .*\(data.init_args.laplacians: assembled\)"):
        Conv(3, 2)(x, down)


def test_a_layer_that_reads_entries_names_the_factored_laplacian():
    run_on_ranks(check_factored_laplacian_in_a_layer_reading_entries, 2)


def release_a_dropped_partition(rank, world_size):
    import gc
    import weakref

    complex_ = torus_mesh(6, 4, seed=2)
    names = ["incidence_1", "incidence_1.T", "adjacency_0"]
    shard = build_shards(complex_, assign_cells(complex_, world_size, "random", seed=1), names, world_size)[rank]
    whole = complex_.neighborhood("incidence_1", dtype=torch.float64)
    owned = [torch.from_numpy(shard.owned_cells[dim]) for dim in (0, 1)]
    x_1 = torch.randn(complex_.n_cells[1], 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    conv = Conv(2, 2).double()
    gc.collect()
    with reference_counting_only():  # the complex's memory must go without the collector
        partitioned = PartitionedComplex(shard, dtype=torch.float64)
        incidence = partitioned.neighborhood("incidence_1")
        assert incidence.T is partitioned.neighborhood("incidence_1.T") and incidence.T.T is incidence
        x = x_1[owned[1]].clone().requires_grad_(True)  # features that require grad: their halo has a graph
        hidden = conv(conv(x, incidence), partitioned.neighborhood("adjacency_0"))
        conv(hidden, incidence.T).square().sum().backward()
        kept = [weakref.ref(partitioned), weakref.ref(incidence), weakref.ref(incidence.T)]
        exchangers = [weakref.ref(exchanger) for exchanger in partitioned.exchangers.values()]
        del partitioned, incidence, hidden, x
        assert [ref() for ref in kept] == [None, None, None]
        gc.collect()  # the exchangers wait for the collector: a cached halo's graph holds its exchanger
        assert [ref() for ref in exchangers] == [None] * len(exchangers)
        # a neighborhood kept without its complex still has its transpose, built once
        incidence = PartitionedComplex(shard, dtype=torch.float64).neighborhood("incidence_1")
        transpose = incidence.T
        assert transpose is incidence.T and transpose.T is not None
        down = transpose @ (incidence @ x_1[owned[1]])
        assert relative_error(down, (whole.T @ (whole @ x_1))[owned[1]]) <= 1e-12


def test_a_dropped_partition_frees_its_neighborhoods_without_the_garbage_collector():
    run_on_ranks(release_a_dropped_partition, 2)

