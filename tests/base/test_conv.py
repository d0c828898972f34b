"""Conv against dense formulas and against TopoModelX 0.0.1."""

import pytest
import torch

from tests.reference import (
    TOLERANCE,
    dense_attention,
    gradients,
    random_neighborhood,
    relative_error,
)
from topodist.base.conv import Conv

UPDATES = {None: lambda x: x, "relu": torch.relu, "sigmoid": torch.sigmoid}


def dense_reference(layer, x_source, neighborhood, x_target=None):
    """update(D^-1 (N * A) x W), with D the row sums when aggr_norm (0 rows give 0)."""
    weights = neighborhood.to_dense().to(x_source.dtype)
    if layer.att:
        targets = x_source if x_target is None else x_target
        weights = weights * dense_attention(x_source, targets, layer.att_weight)
    messages = x_source if layer.weight is None else x_source @ layer.weight
    out = weights @ messages
    if layer.aggr_norm:
        size = weights.sum(dim=-1, keepdim=True)
        out = torch.where(size != 0, out / torch.where(size != 0, size, 1), 0)
    return UPDATES[layer.update_func](out)


@pytest.mark.parametrize("aggr_norm", [False, True])
@pytest.mark.parametrize("att", [False, True])
@pytest.mark.parametrize("update_func", [None, "relu", "sigmoid"])
@pytest.mark.parametrize("batch", [(), (2,), (2, 3)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_and_backward_match_dense_formula(
    scatter_backend, aggr_norm, att, update_func, batch, dtype
):
    torch.manual_seed(0)
    layer = Conv(4, 3, aggr_norm=aggr_norm, update_func=update_func, att=att).to(dtype)
    neighborhood = random_neighborhood(10, 7, seed=1, empty_rows=(2, 9), positive=True, dtype=dtype)
    x_source = torch.randn(*batch, 7, 4, dtype=dtype, requires_grad=True)
    x_target = torch.randn(*batch, 10, 4, dtype=dtype, requires_grad=True) if att else None

    out = layer(x_source, neighborhood, x_target)
    expected = dense_reference(layer, x_source, neighborhood, x_target)
    assert out.shape == (*batch, 10, 3)
    assert relative_error(out, expected) <= TOLERANCE[dtype]

    inputs = [x_source, *layer.parameters()] + ([x_target] if att else [])
    for got, want in zip(gradients(out, inputs), gradients(expected, inputs)):
        assert torch.isfinite(got).all()
        assert relative_error(got, want) <= TOLERANCE[dtype]


@pytest.mark.parametrize("aggr_norm", [False, True])
def test_without_linear_transform(scatter_backend, aggr_norm):
    layer = Conv(3, 3, aggr_norm=aggr_norm, with_linear_transform=False)
    assert layer.weight is None and list(layer.parameters()) == []
    neighborhood = random_neighborhood(6, 5, seed=2, positive=True, dtype=torch.float64)
    x = torch.randn(5, 3, dtype=torch.float64)
    assert relative_error(layer(x, neighborhood), dense_reference(layer, x, neighborhood)) <= 1e-10


def test_aggr_norm_never_densifies_the_neighborhood(scatter_backend):
    n_cells = 2_000_000  # a dense float32 matrix would need 16 TB
    indices = torch.tensor([[0, 0, 5, n_cells - 1], [1, 7, 5, 0]])
    values = torch.tensor([1.0, 3.0, 2.0, 4.0])
    neighborhood = torch.sparse_coo_tensor(indices, values, (n_cells, n_cells), check_invariants=True)
    layer = Conv(2, 2, aggr_norm=True, with_linear_transform=False)
    x = torch.zeros(n_cells, 2)
    x[[0, 1, 5, 7]] = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])
    out = layer(x, neighborhood)
    assert torch.allclose(out[0], (1 * x[1] + 3 * x[7]) / 4)
    assert torch.allclose(out[5], x[5])
    assert torch.allclose(out[n_cells - 1], x[0])
    assert out.abs().sum() == out[[0, 5, n_cells - 1]].abs().sum()


@pytest.mark.parametrize("aggr_norm", [False, True])
@pytest.mark.parametrize("att", [False, True])
@pytest.mark.parametrize("update_func", [None, "relu", "sigmoid"])
def test_matches_topomodelx(topomodelx, scatter_backend, aggr_norm, att, update_func):
    torch.manual_seed(3)
    reference = topomodelx.base.conv.Conv(
        5, 4, aggr_norm=aggr_norm, update_func=update_func, att=att
    )
    layer = Conv(5, 4, aggr_norm=aggr_norm, update_func=update_func, att=att)
    layer.load_state_dict(reference.state_dict(), strict=True)
    reference.load_state_dict(layer.state_dict(), strict=True)
    # TopoModelX divides by zero on empty rows: give every row a positive sum.
    neighborhood = random_neighborhood(8, 8, seed=4, positive=True)
    x = torch.randn(8, 5, requires_grad=True)

    out, expected = layer(x, neighborhood), reference(x, neighborhood)
    assert relative_error(out, expected) <= 1e-5
    for got, want in zip(
        gradients(out, [x, *layer.parameters()]), gradients(expected, [x, *reference.parameters()])
    ):
        assert relative_error(got, want) <= 1e-5


@pytest.mark.parametrize("initialization", ["xavier_uniform", "xavier_normal", "uniform"])
def test_initialization_draws_topomodelx_parameters(topomodelx, initialization):
    torch.manual_seed(5)
    layer = Conv(6, 4, initialization=initialization, initialization_gain=0.7)
    torch.manual_seed(5)
    reference = topomodelx.base.conv.Conv(6, 4, initialization=initialization, initialization_gain=0.7)
    assert torch.equal(layer.weight, reference.weight)


def test_isolated_targets_with_aggr_norm_are_zero_where_topomodelx_gives_nan(topomodelx):
    torch.manual_seed(6)
    neighborhood = random_neighborhood(6, 6, seed=5, empty_rows=(1,), positive=True)
    reference = topomodelx.base.conv.Conv(3, 2, aggr_norm=True)
    layer = Conv(3, 2, aggr_norm=True)
    layer.load_state_dict(reference.state_dict())
    x = torch.randn(6, 3)
    expected, out = reference(x, neighborhood), layer(x, neighborhood)
    assert torch.isnan(expected[1]).all() and torch.all(out[1] == 0)
    rows = [0, 2, 3, 4, 5]
    assert relative_error(out[rows], expected[rows]) <= 1e-5


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="in_channels=3, out_channels=4"):
        Conv(3, 4, with_linear_transform=False)
    with pytest.raises(ValueError, match="update_func='tanh'"):
        Conv(3, 4, update_func="tanh")
    with pytest.raises(ValueError, match="initialization='orthogonal'"):
        Conv(3, 4, initialization="orthogonal")
    layer = Conv(3, 4)
    neighborhood = random_neighborhood(5, 4, seed=6)
    with pytest.raises(ValueError, match=r"x_source has 5 cells .* 4 columns"):
        layer(torch.randn(5, 3), neighborhood)
    with pytest.raises(ValueError, match="2-D torch sparse tensor"):
        layer(torch.randn(4, 3), neighborhood.to_dense())
    with pytest.raises(TypeError, match="x_source must hold floating-point"):
        layer(torch.ones(4, 3, dtype=torch.int32), neighborhood)


def linear_conv_on_a_part(rank, world_size):
    from tests.nn.partitioned import assert_part_equals_whole
    from topodist.data.datasets import torus_mesh
    from topodist.distributed import PartitionedComplex, PartitionedNeighborhood
    from topodist.partition import assign_cells, build_shards

    def refuse_localize(self, x_source, x_target):
        raise AssertionError("a Conv without attention waited for the halo beside its owned rows (localize)")

    localize = PartitionedNeighborhood.localize
    PartitionedNeighborhood.localize = refuse_localize  # this rank's class, until the call returns
    try:
        complex_ = torus_mesh(7, 5, seed=1)
        # the weight before the product (edges from nodes), after it (nodes from edges), and no weight
        cases = [("incidence_1.T", 0, 1, 3, 5, {}), ("incidence_1", 1, 0, 5, 3, {"aggr_norm": True}),
                 ("adjacency_0", 0, 0, 4, 4, {"with_linear_transform": False, "update_func": "sigmoid"})]
        for name, source, target, in_channels, out_channels, kwargs in cases:

            def forward(model, x, neighborhood, name=name, source=source, target=target):
                return [(target, model(x[source], neighborhood(name)))]

            assert_part_equals_whole(
                rank, world_size, complex_, [name], {source: in_channels},
                lambda i=in_channels, o=out_channels, k=kwargs: Conv(i, o, **k), forward,
            )
        shard = build_shards(complex_, assign_cells(complex_, world_size, "metis"), ["adjacency_0"], world_size)[rank]
        adjacency = PartitionedComplex(shard).neighborhood("adjacency_0")
        with pytest.raises(ValueError, match=r"x_source has \d+ cells"):
            Conv(2, 2)(torch.randn(len(shard.owned_cells[0]) + 1, 2), adjacency)
    finally:
        PartitionedNeighborhood.localize = localize  # the harness keeps this process for the next call


def test_without_attention_on_a_part_the_product_overlaps_the_halo_exchange_and_equals_the_whole():
    from tests.distributed.harness import run_on_ranks

    run_on_ranks(linear_conv_on_a_part, 3)
