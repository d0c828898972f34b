"""Run a function on P gloo processes on CPU, as the distributed tests do.

``run_on_ranks(fn, P, *args)`` spawns P processes with
``torch.multiprocessing.spawn``; each initialises a gloo process group (one
thread per process), calls ``fn(rank, P, *args)`` and tears the group down.
Rank 0 hosts the group's store on a port the kernel picks as it binds, and
tells the other ranks which through shared memory: a port picked beforehand
and bound later could be taken meanwhile by a test running beside this one. An exception in any rank fails the call with that rank's
traceback. Each rank runs under the warning filters of the test that started
it (the suite's make warnings errors), which a spawned process would not
otherwise inherit.
"""

import datetime
import faulthandler
import socket
import time
import warnings

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

GROUP_TIMEOUT = datetime.timedelta(seconds=60)
HOST = "127.0.0.1"


def free_port() -> int:
    """A port free now, for launchers that take one (torchrun, Lightning, slurmd); it can be taken before they bind."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _store(rank: int, world_size: int, port, timeout: datetime.timedelta) -> dist.TCPStore:
    """Rank 0's store on a port bound at once, or a client of it once rank 0 has published the port."""
    if rank == 0:
        store = dist.TCPStore(HOST, 0, world_size, is_master=True, timeout=timeout, wait_for_workers=False)
        port.value = store.port
        return store
    deadline = time.monotonic() + timeout.total_seconds()
    while port.value == 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"rank {rank}: rank 0 opened no store in {timeout}")
        time.sleep(0.01)
    return dist.TCPStore(HOST, port.value, world_size, is_master=False, timeout=timeout)


def _entry(rank, world_size, port, fn, args, timeout_s, delays, warning_filters):
    faulthandler.enable()  # a rank that aborts in C++ prints where its Python was
    warnings.filters[:] = warning_filters
    torch.set_num_threads(1)
    time.sleep(delays.get(rank, 0))  # a rank that starts late, e.g. loading a large shard
    timeout = datetime.timedelta(seconds=timeout_s)
    store = _store(rank, world_size, port, timeout)
    dist.init_process_group("gloo", store=store, rank=rank, world_size=world_size, timeout=timeout)
    try:
        fn(rank, world_size, *args)
    finally:
        dist.destroy_process_group()


def _shared_port():
    """The store's port as rank 0 will publish it; 0 until then."""
    return mp.get_context("spawn").Value("i", 0, lock=False)


def run_on_ranks(
    fn, world_size: int, *args, timeout_s: float = GROUP_TIMEOUT.total_seconds(), delays: dict | None = None
) -> None:
    """Call ``fn(rank, world_size, *args)`` on ``world_size`` gloo processes and wait for all.

    ``timeout_s`` is the process group's timeout; ``delays`` maps ranks to
    seconds they sleep before joining the group.
    """
    mp.spawn(
        _entry, args=(world_size, _shared_port(), fn, args, timeout_s, delays or {}, list(warnings.filters)),
        nprocs=world_size, join=True,
    )


def start_ranks(fn, world_size: int, *args, timeout_s: float = GROUP_TIMEOUT.total_seconds()):
    """Start ``fn`` on ``world_size`` gloo processes and return at once (``torch.multiprocessing`` context).

    Unlike :func:`run_on_ranks`, a rank that dies does not make the caller stop
    the others: tests of dead ranks watch what the survivors do on their own.
    """
    return mp.start_processes(
        _entry, args=(world_size, _shared_port(), fn, args, timeout_s, {}, list(warnings.filters)), nprocs=world_size,
        join=False,
        start_method="spawn",
    )


def assert_parameter_gradients_sum_to(model, expected: list, tolerance: float, where: str = "") -> None:
    """Each parameter's gradient summed over the ranks equals the whole-complex one (relative error)."""
    from tests.reference import relative_error

    for (name, parameter), whole in zip(model.named_parameters(), expected, strict=True):
        grad = torch.zeros_like(parameter) if parameter.grad is None else parameter.grad.clone()
        dist.all_reduce(grad)
        if whole is None:
            assert not grad.any(), f"grad of {name} is not zero, but unused on one device: {where}"
            continue
        assert relative_error(grad, whole) <= tolerance, f"grad of {name}: {where}"
