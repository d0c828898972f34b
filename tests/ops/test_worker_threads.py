"""The kernels' thread pool: every block runs once, the first on the caller's thread, and after a fork too."""

import multiprocessing
import threading

import pytest
import torch

from topodist.ops import worker_threads


def record_blocks(calls: list, first: int, end: int) -> None:
    calls.append((first, end, threading.get_ident()))


def test_every_block_runs_once_and_the_first_on_the_calling_thread():
    calls = []
    worker_threads.run_in_blocks(record_blocks, (calls,), [0, 3, 3, 10])
    assert sorted(call[:2] for call in calls) == [(0, 3), (3, 3), (3, 10)]
    assert [call[2] for call in calls if call[:2] == (0, 3)] == [threading.get_ident()]
    assert {call[2] for call in calls if call[:2] != (0, 3)}.isdisjoint({threading.get_ident()})
    one = []
    worker_threads.run_in_blocks(record_blocks, (one,), [2, 7])
    assert one == [(2, 7, threading.get_ident())]


def blocks_in_a_forked_child(queue) -> None:
    calls = []
    worker_threads.run_in_blocks(record_blocks, (calls,), [0, 1, 2, 3])
    queue.put(sorted(call[:2] for call in calls))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")  # the point of the test
def test_a_forked_child_gets_a_pool_of_its_own():
    worker_threads.run_in_blocks(record_blocks, ([],), [0, 1, 2, 3])  # the parent's pool exists
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=blocks_in_a_forked_child, args=(queue,))
    child.start()
    try:
        assert queue.get(timeout=30) == [(0, 1), (1, 2), (2, 3)]  # the parent's threads did not survive the fork
    finally:
        child.join(timeout=30)
        if child.is_alive():  # blocks handed to threads that are gone never run
            child.kill()
    assert child.exitcode == 0


def test_threads_for_gives_each_thread_its_minimum_work_within_torchs_threads(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    assert worker_threads.threads_for(0, 100) == 1
    assert worker_threads.threads_for(250, 100) == 2
    assert worker_threads.threads_for(10_000, 100) == 4
