"""How memory-bound and compute-bound work scale with processes on this machine: the ceiling of strong scaling.

    python -m benchmarks.memory_bandwidth --processes 1 2

P processes (``torch.multiprocessing`` spawn, one torch thread each, as the
ranks of ``benchmarks.scaling``) run the same loop at the same time, released
together by a barrier:

- ``copy``: ``y.copy_(x)`` on ``--megabytes`` MiB, far above the L3: DRAM bandwidth;
- ``sigmoid``: ``torch.sigmoid(x, out=y)`` on the same buffers (an activation
  and its backward are this kind of op);
- ``cached product``: ``torch.matmul`` of ``(2048, 32)`` by ``(32, 32)``, its
  operands in L2: compute alone.

The table gives each process's rate, their total, and the total over one
process's (the first row's, ``--processes 1 ...``): a strong-scaling step at P ranks cannot beat P = 1 by more than
this factor on the work of each kind.
"""

import argparse
import time

import torch
import torch.multiprocessing as mp

from benchmarks.timing import progress

UNITS = {"copy": "GB/s", "sigmoid": "GB/s", "cached product": "GFLOP/s"}


def rates(rank: int, arguments, barrier, results) -> None:
    torch.set_num_threads(1)
    x = torch.randn(arguments.megabytes * 2**20 // 4)
    y = torch.empty_like(x)
    features, weight = torch.randn(2048, 32), torch.randn(32, 32)
    cases = {
        "copy": (lambda: y.copy_(x), 2 * x.numel() * 4),  # bytes read and written
        "sigmoid": (lambda: torch.sigmoid(x, out=y), 2 * x.numel() * 4),
        "cached product": (lambda: torch.matmul(features, weight), 2 * 2048 * 32 * 32),  # floating-point operations
    }
    measured = {}
    for name, (run, amount) in cases.items():
        run()
        barrier.wait()  # every process starts the loop together
        repeats, start = 0, time.perf_counter()
        while time.perf_counter() - start < arguments.seconds:
            run()
            repeats += 1
        measured[name] = amount * repeats / (time.perf_counter() - start) / 1e9
    results.put((rank, measured))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--megabytes", type=int, default=256, help="MiB per buffer")
    parser.add_argument("--seconds", type=float, default=2.0, help="per case and process count")
    arguments = parser.parse_args()
    context = mp.get_context("spawn")
    rows = []
    for n_processes in progress(arguments.processes, "process counts", total=len(arguments.processes)):
        barrier, results = context.Barrier(n_processes), context.SimpleQueue()
        mp.start_processes(rates, args=(arguments, barrier, results), nprocs=n_processes, join=True,
                           start_method="spawn")
        rows.append((n_processes, [results.get()[1] for _ in range(n_processes)]))
    print(f"{arguments.megabytes} MiB buffers, one thread per process, {arguments.seconds:g} s per case")
    print("| processes | work | per process | total | total vs one process of the first row |")
    print("|---:|---|---|---:|---:|")
    single = {name: sum(m[name] for m in rows[0][1]) / rows[0][0] for name in rows[0][1][0]}
    for n_processes, measured in rows:
        for name in measured[0]:
            total = sum(m[name] for m in measured)
            each = ", ".join(f"{m[name]:.1f}" for m in measured)
            print(f"| {n_processes} | {name} | {each} {UNITS[name]} | {total:.1f} {UNITS[name]} | "
                  f"{total / single[name]:.2f} |")


if __name__ == "__main__":
    main()
