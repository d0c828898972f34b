"""Strong and weak scaling of a training step, and peak memory per rank, on CPU processes (gloo).

    python -m benchmarks.scaling --mode strong --cells 1000000 --ranks 1 2 4
    python -m benchmarks.scaling --mode weak --cells 250000 --ranks 1 2 4

The complex is a triangulated torus of about ``--cells`` cells (nodes + edges +
triangles) in strong mode, ``--cells`` per rank in weak mode. This process
builds it, partitions it with METIS into P parts and writes the shards
(:func:`topodist.partition.shards.prepare_shards`); then P fresh processes
(``torch.multiprocessing`` spawn, one thread each: ``--threads``) each load
only their own shard, wrap HSN (``--channels`` wide, 2 layers) in DDP and time
full-batch training steps (forward, backward with the gradient all-reduce, SGD
step; one step is one epoch of this full-batch job). The table gives, per P,
the slowest rank's median step, the speedup (strong) or efficiency (weak)
against P = 1, and each rank's peak resident memory: ``peak RSS`` (the
process's high-water mark, interpreter and libraries included) and ``data
peak``: the high-water mark since just before it loaded its shard, above the
process's resident size then, i.e. what this rank's share of the complex and
training cost. The kernel's mark is reset there (``/proc/self/clear_refs``),
so that the transient memory of importing and compiling, which is the same at
every P, is not counted as data; where it cannot be reset, the lifetime mark
is used.
Run P above the core count only as information (oversubscribed).

With ``--independent``, every P > 1 also runs P one-rank jobs at once, each
on its own torus of the cells a rank holds (strong: ``--cells / P``; weak:
``--cells``), stepping together (a barrier before each step) but exchanging
nothing: what the cores, caches and memory bus of this machine allow P
processes of that size, without any halo, imbalance or gradient all-reduce.
The table's ``independent`` columns give their slowest median step, the
speedup (strong) or efficiency (weak) that would be against P = 1, and the
partitioned step over it, the cost of partitioning:

    python -m benchmarks.scaling --mode strong --cells 1000000 --ranks 1 2 --independent

With ``--rounds N`` every P runs N times, in turn (P = 1, 2, ..., then again):
on a machine whose multi-process steps move from run to run, the table then
gives each P's median step over the rounds with its range, the speedup or
efficiency of the medians with the range of the rounds' own, and every rank's
highest peak over the rounds:

    python -m benchmarks.scaling --mode strong --cells 1000000 --ranks 1 2 --steps 10 --rounds 5
"""

import argparse
import faulthandler
import os
import resource
import socket
import statistics
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from benchmarks.timing import progress, ratio_range


def torus_side(cells: int) -> int:
    """Side ``n`` of the ``n x n`` torus closest to ``cells`` cells (it has ``6 n^2``)."""
    return max(3, round((cells / 6) ** 0.5))


def torus_cells(cells: int) -> int:
    """Cells of the torus :func:`torus_side` gives for ``cells``."""
    return 6 * torus_side(cells) ** 2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_resident_bytes() -> int:
    """The process's lifetime high-water mark of resident memory."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_resident_peak() -> bool:
    """Lower the kernel's high-water mark (``VmHWM``) to the current resident size; False where refused."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def resident_peak_since_reset() -> int:
    """``VmHWM``: the high-water mark of resident memory since :func:`reset_resident_peak`."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("/proc/self/status has no VmHWM")


def worker(rank: int, world_size: int, directory: str, port: int, arguments, results, independent: bool) -> None:
    faulthandler.enable()  # a rank that aborts in C++ prints where its Python was
    torch.set_num_threads(arguments.threads)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        result = measure(rank, world_size, directory, arguments, independent)
        if rank == 0:
            results.put(result)
        dist.barrier()  # no rank shuts the group down while another still uses it
    finally:
        # DDP and the partitioned complex are gone with measure's frame; the halo exchangers can sit in reference
        # cycles (a cached halo's graph) that still hold the group: the exit hook of topodist.distributed.shutdown
        # collects them
        dist.destroy_process_group()


def measure(rank: int, world_size: int, directory: str, arguments, independent: bool = False) -> dict:
    """Median step time and peak memory of every rank (on all ranks; rank 0's is put on the queue).

    ``independent``: every rank trains the one part in ``directory`` alone, in a
    process group of its own; the default group only starts the steps together.
    """
    from topodist.distributed import PartitionedComplex
    from topodist.nn.simplicial.hsn import HSN
    from topodist.ops.spmm import SparseRows
    from topodist.partition.shards import load_shard

    # compile the CSR kernel first: its code is not this rank's data
    index = torch.arange(2)
    SparseRows.from_coo(index, index, torch.ones(2), (2, 2)).matmul(torch.ones(2, 1))
    reset = reset_resident_peak()  # the imports' and the compiler's transient memory is not this rank's data
    before_data = resident_bytes()
    # every rank creates every group, in the same order, as torch.distributed.new_group requires
    groups = [dist.new_group([member]) for member in range(world_size)] if independent else None
    group = groups[rank] if independent else None
    shard = load_shard(directory, 0 if independent else rank)
    partitioned = PartitionedComplex(shard, group=group, validate=False)
    incidence_1 = partitioned.neighborhood("incidence_1")
    adjacency_0 = partitioned.neighborhood("adjacency_0")
    generator = torch.Generator().manual_seed(rank)
    x_0 = torch.randn(partitioned.n_owned[0], arguments.channels, generator=generator)
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(HSN(channels=arguments.channels, n_layers=2), process_group=group)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)

    def step() -> None:
        optimizer.zero_grad()
        output = model(x_0, incidence_1, adjacency_0)
        loss = output.square().mean()
        loss.backward()
        optimizer.step()

    times = []
    for index in range(arguments.warmup + arguments.steps):
        dist.barrier()
        start = time.perf_counter()
        step()
        if index >= arguments.warmup:
            times.append(time.perf_counter() - start)
    slowest = torch.tensor(times, dtype=torch.float64)
    dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
    data_peak = (resident_peak_since_reset() if reset else peak_resident_bytes()) - before_data
    memory = torch.tensor([peak_resident_bytes(), data_peak], dtype=torch.float64)
    gathered = [torch.zeros_like(memory) for _ in range(world_size)]
    dist.all_gather(gathered, memory)
    return {"step_s": float(slowest.median()), "memory": [tuple(m.tolist()) for m in gathered],
            "owned_nodes": partitioned.n_owned[0]}


def run(world_size: int, cells: int, arguments, independent: bool = False) -> dict:
    """P = ``world_size`` processes training HSN on a torus of about ``cells`` cells cut into P parts.

    ``independent``: each of the P processes trains alone on a whole torus of
    about ``cells`` cells (one part), all at once.
    """
    from topodist.data.datasets import torus_mesh
    from topodist.partition.shards import prepare_shards

    side = torus_side(cells)
    complex_ = torus_mesh(side, side, seed=0)
    with tempfile.TemporaryDirectory() as directory:
        parts = 1 if independent else world_size
        prepare_shards(complex_, directory, parts, "metis", ["incidence_1", "incidence_1.T", "adjacency_0"])
        del complex_
        context = mp.get_context("spawn")
        results = context.SimpleQueue()
        mp.start_processes(worker, args=(world_size, directory, free_port(), arguments, results, independent),
                           nprocs=world_size, join=True, start_method="spawn")
        result = results.get()
    result["cells"] = torus_cells(cells)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("strong", "weak"), default="strong")
    parser.add_argument("--cells", type=int, default=1_000_000, help="total (strong) or per rank (weak)")
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    parser.add_argument("--independent", action="store_true",
                        help="also run P independent one-rank jobs on the cells of one rank each, at once")
    parser.add_argument("--rounds", type=int, default=1, help="runs of every P, in turn; medians are reported")
    arguments = parser.parse_args()
    if arguments.rounds < 1:
        parser.error("--rounds must be at least 1")
    runs = {world_size: [] for world_size in arguments.ranks}
    schedule = [world_size for _ in range(arguments.rounds) for world_size in arguments.ranks]
    for world_size in progress(schedule, f"{arguments.mode} scaling", total=len(schedule)):
        cells = arguments.cells * (world_size if arguments.mode == "weak" else 1)
        result = run(world_size, cells, arguments)
        if arguments.independent and world_size > 1:
            per_rank = arguments.cells if arguments.mode == "weak" else arguments.cells // world_size
            result["independent"] = run(world_size, per_rank, arguments, independent=True)
        runs[world_size].append(result)
    rows = [(world_size, combine_rounds(results)) for world_size, results in runs.items()]
    print(f"{arguments.mode} scaling: HSN, {arguments.channels} channels, 2 layers, {arguments.threads} thread(s) "
          f"per rank, METIS parts, {os.cpu_count()} cores")
    relation = "speedup" if arguments.mode == "strong" else "efficiency"
    independent_header = (f" independent: cells per job | step ms | {relation} | partitioned step vs independent |"
                          if arguments.independent else "")
    print(f"| P | cells | median step ms | {relation} | peak RSS per rank MiB | data peak per rank MiB | "
          "data peak vs P = 1 |" + independent_header)
    print("|---:|---:|---:|---:|---|---|---:|" + "---:|---:|---:|---:|" * arguments.independent)
    base_step, base_data = rows[0][1]["step_s"], max(m[1] for m in rows[0][1]["memory"])
    base_rounds = rows[0][1]["rounds_s"]
    for world_size, result in rows:
        ratio = f"{base_step / result['step_s']:.2f}"
        step = f"{result['step_s'] * 1e3:.1f}"
        if arguments.rounds > 1:  # each round's own ratio, P = 1's step of that round over this P's
            least, most = ratio_range(base_rounds, result["rounds_s"])
            ratio += f" ({least:.2f}-{most:.2f})"
            step += f" ({min(result['rounds_s']) * 1e3:.1f}-{max(result['rounds_s']) * 1e3:.1f})"
        peaks = ", ".join(f"{m[0] / 2 ** 20:.0f}" for m in result["memory"])
        data = ", ".join(f"{m[1] / 2 ** 20:.0f}" for m in result["memory"])
        largest = max(m[1] for m in result["memory"])
        independent = ""
        if "independent" in result:
            alone = result["independent"]
            independent = (f" {alone['cells']:,} | {alone['step_s'] * 1e3:.1f} | {base_step / alone['step_s']:.2f} | "
                           f"{result['step_s'] / alone['step_s']:.2f} |")
        elif arguments.independent:
            independent = " | | | |"
        print(f"| {world_size} | {result['cells']:,} | {step} | {ratio} | {peaks} | "
              f"{data} | {largest / base_data:.2f} |" + independent)


def combine_rounds(results: list[dict]) -> dict:
    """One P's rounds as one result: the median step (``rounds_s`` keeps each), every rank's highest peaks.

    Parameters
    ----------
    results : list of dict
        What :func:`run` returned for each round, in order.

    Returns
    -------
    dict
        ``step_s``, ``rounds_s``, ``memory``, ``cells``, and ``independent`` (the same, combined) if run.
    """
    combined = {
        "step_s": statistics.median(result["step_s"] for result in results),
        "rounds_s": [result["step_s"] for result in results],
        "memory": [tuple(max(values) for values in zip(*ranks, strict=True))
                   for ranks in zip(*(result["memory"] for result in results), strict=True)],
        "cells": results[0]["cells"],
    }
    if "independent" in results[0]:
        combined["independent"] = combine_rounds([result["independent"] for result in results])
    return combined


if __name__ == "__main__":
    main()
