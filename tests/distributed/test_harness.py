"""The ranks a test spawns run under that test's warning filters, as its own process does."""

import warnings

import pytest
from torch.multiprocessing import ProcessRaisedException

from tests.distributed.harness import run_on_ranks


def warn_on_rank_1(rank, world_size):
    if rank == 1:
        warnings.warn("a warning on rank 1", UserWarning, stacklevel=1)


def test_a_warning_on_a_rank_fails_the_test():
    with pytest.raises(ProcessRaisedException, match="UserWarning: a warning on rank 1"):
        run_on_ranks(warn_on_rank_1, 2)


@pytest.mark.filterwarnings("ignore:a warning on rank 1:UserWarning")
def test_a_warning_the_test_ignores_is_ignored_on_its_ranks():
    run_on_ranks(warn_on_rank_1, 2)


def all_ranks_meet(rank, world_size):
    import torch
    import torch.distributed as dist

    ranks = torch.tensor([rank])
    dist.all_reduce(ranks)
    assert ranks.item() == sum(range(world_size))


def test_the_store_port_is_bound_by_rank_0_not_picked_before_the_ranks_start(monkeypatch):
    import tests.distributed.harness as harness

    def picked_beforehand():
        raise AssertionError("a port picked before the ranks start can be taken by a test beside this one")

    monkeypatch.setattr(harness, "free_port", picked_beforehand)
    run_on_ranks(all_ranks_meet, 3)
