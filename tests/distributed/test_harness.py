"""The ranks a test spawns run under that test's warning filters, as its own process does; calls with the same
number of ranks share processes, each call starting from what those processes started with."""

import os
import warnings

import pytest
from torch.multiprocessing import ProcessRaisedException

from tests.distributed import harness
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


@pytest.mark.parametrize("new_processes", [{}, {"delays": {1: 0.1}}], ids=["kept", "spawned"])
def test_the_store_port_is_bound_by_rank_0_not_picked_before_the_ranks_start(monkeypatch, new_processes):
    def picked_beforehand():
        raise AssertionError("a port picked before the ranks start can be taken by a test beside this one")

    harness._end_kept_ranks()  # the kept ranks' store is made here too, not found from an earlier test
    monkeypatch.setattr(harness, "free_port", picked_beforehand)
    run_on_ranks(all_ranks_meet, 3, **new_processes)


def record_process_and_draws(rank, world_size, directory):
    import torch

    with open(os.path.join(directory, f"rank{rank}.txt"), "a") as record:
        record.write(f"{os.getpid()} {torch.rand(3).tolist()} {torch.get_num_threads()}\n")
    torch.manual_seed(1000 + rank)  # what a call leaves behind does not reach the next
    torch.set_num_threads(2)


def fail_on_rank_0(rank, world_size):
    if rank == 0:
        raise ValueError("rank 0 fails")


def test_calls_with_as_many_ranks_share_processes_and_none_sees_what_the_last_left(tmp_path):
    for _ in range(2):
        run_on_ranks(record_process_and_draws, 2, str(tmp_path))
    run_on_ranks(record_process_and_draws, 2, str(tmp_path), delays={0: 0.0, 1: 0.0})  # new processes
    with pytest.raises(ProcessRaisedException, match="rank 0 fails"):
        run_on_ranks(fail_on_rank_0, 2)
    run_on_ranks(record_process_and_draws, 2, str(tmp_path))  # after a failure: new kept processes
    for rank in range(2):
        calls = [line.split() for line in (tmp_path / f"rank{rank}.txt").read_text().splitlines()]
        pids = [call[0] for call in calls]
        assert pids[0] == pids[1] and len(set(pids)) == 3, pids
        assert calls[0][1:4] == calls[1][1:4], calls  # the seed the process started with, not the last call's
        assert all(call[4] == "1" for call in calls), calls  # one thread


def read_environment_and_directory(rank, world_size, expected_directory):
    assert os.environ["TOPODIST_HARNESS_PROBE"] == "set by the test"
    assert os.getcwd() == expected_directory


def test_each_call_runs_in_the_callers_environment_and_directory(tmp_path, monkeypatch):
    run_on_ranks(all_ranks_meet, 2)  # processes kept from before the test's changes
    monkeypatch.setenv("TOPODIST_HARNESS_PROBE", "set by the test")
    monkeypatch.chdir(tmp_path)
    run_on_ranks(read_environment_and_directory, 2, os.getcwd())
