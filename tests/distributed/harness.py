"""Run a function on P gloo processes on CPU, as the distributed tests do.

``run_on_ranks(fn, P, *args)`` calls ``fn(rank, P, *args)`` on P spawned
processes (one thread each) that share a gloo process group, and waits for
all. Rank 0 hosts the group's store on a port the kernel picks as it binds,
and tells the other ranks which through shared memory: a port picked
beforehand and bound later could be taken meanwhile by a test running beside
this one. An exception in any rank fails the call with that rank's
traceback. Each rank runs under the warning filters, environment and working
directory of the test that called it (the suite's make warnings errors).

Starting P processes that import torch and the test's module takes about
5 s of a 2-core machine, more than most of these tests compute, so the P
processes and their group are kept for the next call with the same P (one
set per P, per test process). Each call resets what the process started
with: the seed torch drew then, one thread, float32 as the default dtype,
gradients on, and the caller's warning filters, environment and directory.
After the call every rank collects its garbage and meets the others at a
barrier; a call that fails or is interrupted (pytest's timeout) or that
leaves no group ends those processes, and the next call starts new ones.
Calls with their own ``timeout_s`` or ``delays`` (tests of failing and late
ranks), and :func:`start_ranks`, always start new processes.
"""

import atexit
import datetime
import faulthandler
import gc
import os
import queue
import socket
import time
import traceback
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


def _join_group(rank: int, world_size: int, port, timeout: datetime.timedelta) -> None:
    """This process's gloo default group, met through rank 0's store (:func:`_store`)."""
    store = _store(rank, world_size, port, timeout)
    dist.init_process_group("gloo", store=store, rank=rank, world_size=world_size, timeout=timeout)


def _entry(rank, world_size, port, fn, args, timeout_s, delays, warning_filters):
    faulthandler.enable()  # a rank that aborts in C++ prints where its Python was
    warnings.filters[:] = warning_filters
    torch.set_num_threads(1)
    time.sleep(delays.get(rank, 0))  # a rank that starts late, e.g. loading a large shard
    _join_group(rank, world_size, port, datetime.timedelta(seconds=timeout_s))
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
    seconds they sleep before joining the group. With either given, the call
    starts new processes; otherwise it reuses those of the last call with the
    same ``world_size`` (module docstring).
    """
    if timeout_s != GROUP_TIMEOUT.total_seconds() or delays:
        mp.spawn(
            _entry, args=(world_size, _shared_port(), fn, args, timeout_s, delays or {}, list(warnings.filters)),
            nprocs=world_size, join=True,
        )
        return
    ranks = _kept_ranks.pop(world_size, None) or _KeptRanks(world_size)
    ranks.run(fn, args)  # raises, and ends those processes, if any rank fails
    _kept_ranks[world_size] = ranks


class _KeptRanks:
    """``world_size`` spawned processes in one gloo group, each running the calls its job queue brings."""

    def __init__(self, world_size: int) -> None:
        context = mp.get_context("spawn")
        self.world_size = world_size
        self.jobs = [context.Queue() for _ in range(world_size)]
        self.results = context.Queue()
        port = _shared_port()
        self.processes = [
            context.Process(target=_serve, args=(rank, world_size, port, self.jobs[rank], self.results, os.getpid()))
            for rank in range(world_size)
        ]
        for process in self.processes:
            process.start()

    def run(self, fn, args: tuple) -> None:
        """Run ``fn(rank, world_size, *args)`` on every rank; on a failure, end the processes and raise."""
        try:
            job = (fn, args, list(warnings.filters), dict(os.environ), os.getcwd())
            for jobs in self.jobs:
                jobs.put(job)
            done = set()
            while len(done) < self.world_size:
                try:
                    rank, error = self.results.get(timeout=1.0)
                except queue.Empty:
                    for rank, process in enumerate(self.processes):
                        if not process.is_alive():
                            raise mp.ProcessExitedException(
                                f"process {rank} terminated with exit code {process.exitcode}", error_index=rank,
                                error_pid=process.pid, exit_code=process.exitcode,
                            ) from None
                    continue
                if error is not None:
                    raise mp.ProcessRaisedException(
                        f"\n\n-- Process {rank} terminated with the following error:\n{error}", rank,
                        self.processes[rank].pid,
                    )
                done.add(rank)
        except BaseException:  # a failed or interrupted call: what the ranks hold now is unknown
            self.close()
            raise

    def close(self) -> None:
        """End the processes: at once, whatever they are doing."""
        for process in self.processes:
            if process.is_alive():
                process.kill()
        for process in self.processes:
            process.join()
        for channel in (*self.jobs, self.results):
            channel.cancel_join_thread()  # a job no rank will read must not hold this process at exit
            channel.close()


_kept_ranks: dict[int, _KeptRanks] = {}


@atexit.register  # before multiprocessing's own exit hook, which would wait for these processes
def _end_kept_ranks() -> None:
    while _kept_ranks:
        _kept_ranks.popitem()[1].close()


def _serve(rank, world_size, port, jobs, results, caller_pid) -> None:
    """A kept rank: join the group, then run each job ``(fn, args, warning filters, environment, directory)``."""
    faulthandler.enable()  # a rank that aborts in C++ prints where its Python was
    first_seed = torch.initial_seed()
    _join_group(rank, world_size, port, GROUP_TIMEOUT)
    try:
        while os.getppid() == caller_pid:  # a test process that ended without closing leaves no rank behind
            try:
                fn, args, warning_filters, environment, directory = jobs.get(timeout=1.0)
            except queue.Empty:
                continue
            os.environ.clear()
            os.environ.update(environment)
            os.chdir(directory)
            warnings.resetwarnings()  # also forgets which warnings were already shown
            warnings.filters[:] = warning_filters
            torch.set_num_threads(1)
            torch.manual_seed(first_seed)
            torch.set_default_dtype(torch.float32)
            torch.set_grad_enabled(True)
            try:
                fn(rank, world_size, *args)
                del fn, args
                gc.collect()  # graphs in reference cycles can hold the group's buffers
                if not dist.is_initialized():
                    raise RuntimeError("the call destroyed the process group the harness keeps")
                dist.barrier()
            except BaseException:
                results.put((rank, traceback.format_exc()))
                return
            results.put((rank, None))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


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
