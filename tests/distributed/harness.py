"""Run a function on P gloo processes on CPU, as the distributed tests do.

``run_on_ranks(fn, P, *args)`` spawns P processes with
``torch.multiprocessing.spawn``; each initialises a gloo process group on a
free local port (one thread per process), calls ``fn(rank, P, *args)`` and
tears the group down. An exception in any rank fails the call with that rank's
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _entry(rank, world_size, port, fn, args, timeout_s, delays, warning_filters):
    faulthandler.enable()  # a rank that aborts in C++ prints where its Python was
    warnings.filters[:] = warning_filters
    torch.set_num_threads(1)
    time.sleep(delays.get(rank, 0))  # a rank that starts late, e.g. loading a large shard
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world_size,
        timeout=datetime.timedelta(seconds=timeout_s),
    )
    try:
        fn(rank, world_size, *args)
    finally:
        dist.destroy_process_group()


def run_on_ranks(
    fn, world_size: int, *args, timeout_s: float = GROUP_TIMEOUT.total_seconds(), delays: dict | None = None
) -> None:
    """Call ``fn(rank, world_size, *args)`` on ``world_size`` gloo processes and wait for all.

    ``timeout_s`` is the process group's timeout; ``delays`` maps ranks to
    seconds they sleep before joining the group.
    """
    mp.spawn(
        _entry, args=(world_size, free_port(), fn, args, timeout_s, delays or {}, list(warnings.filters)),
        nprocs=world_size, join=True,
    )


def start_ranks(fn, world_size: int, *args, timeout_s: float = GROUP_TIMEOUT.total_seconds()):
    """Start ``fn`` on ``world_size`` gloo processes and return at once (``torch.multiprocessing`` context).

    Unlike :func:`run_on_ranks`, a rank that dies does not make the caller stop
    the others: tests of dead ranks watch what the survivors do on their own.
    """
    return mp.start_processes(
        _entry, args=(world_size, free_port(), fn, args, timeout_s, {}, list(warnings.filters)), nprocs=world_size,
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
