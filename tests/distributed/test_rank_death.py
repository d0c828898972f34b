"""A rank killed with SIGKILL (no chance to say goodbye) during a halo exchange or DDP's gradient all-reduce:
every other rank fails with an error that names what happened, within the group's timeout, and no process is left."""

import json
import os
import signal
import time

import pytest
import torch
import torch.distributed as dist

from tests.distributed.harness import start_ranks
from topodist.data.datasets import torus_mesh
from topodist.distributed import PartitionedComplex
from topodist.partition import assign_cells, build_shards

TIMEOUT_S = 10


def _report(report_dir, rank, error, start):
    with open(os.path.join(report_dir, f"rank{rank}.json"), "w") as handle:
        json.dump({"error": f"{type(error).__name__}: {error}", "seconds": time.monotonic() - start}, handle)


def die_in_a_halo_exchange(rank, world_size, report_dir):
    complex_ = torus_mesh(8, 5, seed=2)
    shard = build_shards(complex_, assign_cells(complex_, world_size, "metis"), ["adjacency_1"], world_size)[rank]
    adjacency = PartitionedComplex(shard).neighborhood("adjacency_1")
    x = torch.randn(len(shard.owned_cells[1]), 4)
    adjacency @ x  # one exchange every rank completes
    if rank == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    start = time.monotonic()
    try:
        adjacency @ (x + 1)
    except RuntimeError as error:
        _report(report_dir, rank, error, start)
        raise SystemExit(1) from None


def die_in_the_gradient_all_reduce(rank, world_size, report_dir):
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(8, 1))
    x = torch.randn(16, 8)
    model(x).sum().backward()  # one synchronized step
    if rank == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    start = time.monotonic()
    try:
        model(x).sum().backward()  # the gradients' all-reduce needs rank 1
        dist.barrier()
    except RuntimeError as error:
        _report(report_dir, rank, error, start)
        raise SystemExit(1) from None


@pytest.mark.parametrize(
    ("work", "words"),
    [(die_in_a_halo_exchange, "halo exchange failed on rank"), (die_in_the_gradient_all_reduce, "")],
    ids=["halo_exchange", "ddp_all_reduce"],
)
def test_survivors_of_a_killed_rank_fail_fast_and_nothing_is_left(tmp_path, work, words):
    start = time.monotonic()
    context = start_ranks(work, 3, str(tmp_path), timeout_s=TIMEOUT_S)
    for process in context.processes:
        process.join(timeout=TIMEOUT_S + 30)
    assert time.monotonic() - start < TIMEOUT_S + 40
    assert all(not process.is_alive() for process in context.processes), "a rank is left running"
    codes = [process.exitcode for process in context.processes]
    assert codes[1] == -signal.SIGKILL
    assert codes[0] != 0 and codes[2] != 0, codes
    for rank in (0, 2):
        report = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert report["seconds"] < TIMEOUT_S + 5, report
        message = report["error"].lower()
        assert words.lower() in message
        assert any(word in message for word in ("closed", "peer", "reset", "timed out", "timeout", "broken")), message
