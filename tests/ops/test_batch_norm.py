"""CellBatchNorm is BatchNorm1d on one device and the same on 3 parts (outputs, gradients, running statistics)."""

import pytest
import torch

from tests.distributed.harness import run_on_ranks
from tests.nn.partitioned import assert_part_equals_whole
from tests.reference import relative_error
from topodist.data.datasets import torus_mesh
from topodist.ops.batch_norm import CellBatchNorm


@pytest.mark.parametrize("momentum", [0.1, None])
def test_equals_torch_batch_norm_on_one_device(momentum):
    torch.manual_seed(0)
    ours, torch_norm = CellBatchNorm(5, momentum=momentum), torch.nn.BatchNorm1d(5, momentum=momentum)
    with torch.no_grad():
        torch_norm.weight.uniform_(0.5, 2)
        torch_norm.bias.normal_()
    ours.load_state_dict(torch_norm.state_dict(), strict=True)
    for step in range(3):
        x = (torch.randn(40, 5, dtype=torch.float64) * (step + 1) + step).float()
        x_ours, x_torch = x.clone().requires_grad_(), x.clone().requires_grad_()
        out, expected = ours(x_ours), torch_norm(x_torch)
        assert relative_error(out, expected) <= 1e-5
        (out**3).sum().backward()
        (expected**3).sum().backward()
        assert relative_error(x_ours.grad, x_torch.grad) <= 1e-4
        assert relative_error(ours.weight.grad, torch_norm.weight.grad) <= 1e-5
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        assert relative_error(getattr(ours, name).float(), getattr(torch_norm, name).float()) <= 1e-5, name
    ours.eval(), torch_norm.eval()
    x = torch.randn(7, 5)
    assert relative_error(ours(x), torch_norm(x)) <= 1e-5


def test_one_cell_in_training_is_refused():
    with pytest.raises(ValueError, match="more than 1 cell"):
        CellBatchNorm(3)(torch.randn(1, 3))


def same_norm_on_a_part(rank, world_size):
    complex_ = torus_mesh(7, 5, seed=1)

    def forward(model, x, neighborhood):
        model.reset_running_stats()  # the whole complex's run comes first with the same module
        adjacency = neighborhood("adjacency_1")
        out = [(1, model(adjacency @ x[1], over=adjacency))]
        out.append((1, model(x[1] * 2 + 1, over=adjacency)))  # a second step: running statistics move
        model.eval()
        out.append((1, model(x[1], over=adjacency)))
        model.train()
        return out

    assert_part_equals_whole(rank, world_size, complex_, ["adjacency_1"], {1: 4}, lambda: CellBatchNorm(4), forward)


def test_three_ranks_equal_one():
    run_on_ranks(same_norm_on_a_part, 3)
