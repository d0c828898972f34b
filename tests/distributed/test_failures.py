"""Nothing hangs: a dead rank, late ranks, and shards that do not belong together."""

import json
import os
import time

import pytest
import torch

from tests.distributed.harness import run_on_ranks
from topodist.data.datasets import torus_mesh
from topodist.distributed import PartitionedComplex
from topodist.partition import assign_cells, build_shards
from topodist.partition.shards import load_shard, prepare_shards

NAMES = ["adjacency_1", "incidence_2"]


def _partitioned(rank, world_size, method="metis"):
    complex_ = torus_mesh(8, 5, seed=2)
    shard = build_shards(complex_, assign_cells(complex_, world_size, method), NAMES, world_size)[rank]
    return complex_, PartitionedComplex(shard)


def die_during_an_exchange(rank, world_size, report_dir, stall_s=None):
    complex_, partitioned = _partitioned(rank, world_size)
    x = torch.randn(partitioned.n_owned[1], 4)
    adjacency = partitioned.neighborhood("adjacency_1")
    adjacency @ x  # one exchange that every rank completes
    if rank == 1:
        if stall_s:
            time.sleep(stall_s)  # alive but stuck: the others must give up at the group's timeout
        os._exit(0)  # the process vanishes; its sockets close as in a crash
    start = time.monotonic()
    try:
        adjacency @ (x + 1)
        outcome = "returned"
    except RuntimeError as error:
        outcome = f"RuntimeError: {error}"
    with open(os.path.join(report_dir, f"rank{rank}.json"), "w") as handle:
        json.dump({"outcome": outcome, "seconds": time.monotonic() - start}, handle)


def test_a_dead_rank_makes_the_others_fail_not_hang(tmp_path):
    timeout_s = 15
    start = time.monotonic()
    run_on_ranks(die_during_an_exchange, 3, str(tmp_path), timeout_s=timeout_s)
    assert time.monotonic() - start < 60
    reports = {name: json.loads((tmp_path / name).read_text()) for name in sorted(os.listdir(tmp_path))}
    assert sorted(reports) == ["rank0.json", "rank2.json"]
    for report in reports.values():
        assert report["outcome"].startswith("RuntimeError"), report
        assert report["seconds"] < timeout_s + 5


def test_a_stuck_rank_makes_the_others_fail_at_the_timeout(tmp_path):
    timeout_s = 5
    run_on_ranks(die_during_an_exchange, 3, str(tmp_path), timeout_s + 10, timeout_s=timeout_s)
    reports = [json.loads((tmp_path / name).read_text()) for name in sorted(os.listdir(tmp_path))]
    assert len(reports) == 2
    for report in reports:
        assert report["outcome"].startswith("RuntimeError"), report
        assert timeout_s - 1 < report["seconds"] < timeout_s + 5


def exchange_after_a_late_start(rank, world_size, directory):
    shard = load_shard(directory, rank)
    if rank == 2:
        time.sleep(4)  # a slow shard load after the group is up
    partitioned = PartitionedComplex(shard)
    x = partitioned.features[1]
    y = partitioned.neighborhood("adjacency_1") @ x
    assert y.shape == (partitioned.n_owned[1], x.shape[1])


def test_ranks_that_start_and_load_late_still_meet(tmp_path):
    prepare_shards(torus_mesh(8, 5, seed=2), tmp_path / "shards", 3, "metis", NAMES)
    run_on_ranks(exchange_after_a_late_start, 3, str(tmp_path / "shards"), delays={0: 3, 1: 0, 2: 1})


def mix_two_partitions(rank, world_size):
    complex_ = torus_mesh(8, 5, seed=2)
    method = "random" if rank == 1 else "metis"  # rank 1 holds a shard of another partition
    shard = build_shards(complex_, assign_cells(complex_, world_size, method), NAMES, world_size)[rank]
    with pytest.raises(ValueError, match="do not form one partition: rank .* sends .* which expects"):
        PartitionedComplex(shard)


def test_shards_of_different_partitions_are_refused_on_every_rank():
    run_on_ranks(mix_two_partitions, 3)


def wrong_world_size(rank, world_size):
    complex_ = torus_mesh(8, 5, seed=2)
    shard = build_shards(complex_, assign_cells(complex_, 3, "metis"), NAMES, 3)[rank]
    with pytest.raises(ValueError, match="rank 0: its shard is part of a 3-part partition but the group has 2 ranks"):
        PartitionedComplex(shard)


def test_a_partition_for_another_world_size_is_refused():
    run_on_ranks(wrong_world_size, 2)


def swapped_shards(rank, world_size):
    complex_ = torus_mesh(8, 5, seed=2)
    shard = build_shards(complex_, assign_cells(complex_, 2, "metis"), NAMES, 2)[1 - rank]
    with pytest.raises(ValueError, match="rank 0: it holds shard 1; rank r must hold shard r"):
        PartitionedComplex(shard)


def test_each_rank_must_hold_its_own_shard():
    run_on_ranks(swapped_shards, 2)


def test_without_a_process_group_the_error_says_what_to_do():
    complex_ = torus_mesh(6, 4)
    shard = build_shards(complex_, assign_cells(complex_, 1, "metis"), NAMES, 1)[0]
    with pytest.raises(RuntimeError, match="init_process_group"):
        PartitionedComplex(shard)
