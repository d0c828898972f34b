"""Time one partitioned product ``N @ x``: local compute, exchange, and the exchange left exposed.

Run on P processes with torchrun (one thread each), on CPU with gloo or on GPUs
with NCCL:

    torchrun --nproc-per-node 1 -m benchmarks.halo_exchange --n-major 400 --channels 64
    torchrun --nproc-per-node 2 -m benchmarks.halo_exchange --n-major 400 --channels 64
    torchrun --nproc-per-node 4 -m benchmarks.halo_exchange --n-major 400 --channels 64

Every rank builds ``torus_mesh(n_major, n_major // 2)``, takes its METIS part of
``--neighborhood`` (edges to edges by default) and times, as medians over
``--repeats`` runs (the slowest rank's):

- ``CSR alone``: the local CSR product on owned + halo features already in
  place (forward + backward: also the transposed product backward needs), no
  communication, no autograd: the floor;
- ``product``: ``N @ x`` as models run it (forward + backward: of the loss
  ``sum(w * (N @ x))``), the exchange overlapped with the owned-column part;
  ``its compute`` is the time it spent in sparse products and ``its exposed
  wait`` the time it waited for the exchange (CPU timings: on a GPU these
  measure launches, not kernels);
- ``exchange alone``: the halo exchange by itself, blocking; the ``hidden``
  share is ``1 - exposed wait / exchange alone``.

It also checks that the bytes sent per forward equal the plan's: the rows the
plan sends times channels times 4 bytes.
"""

import argparse
import os
import statistics
import time

import torch
import torch.distributed as dist

from topodist.data.datasets import torus_mesh
from topodist.distributed import PartitionedComplex
from topodist.distributed.halo_exchange import exchange_halo
from topodist.ops.neighborhood import neighborhood_index
from topodist.partition import assign_cells, build_shards


def timed(run, repeats: int, exchanger) -> tuple[float, float, float]:
    """Medians over ``repeats`` runs after a warm-up: seconds of ``run()``, of waiting, of multiplying."""
    run()
    totals, exposed, computing = [], [], []
    for _ in range(repeats):
        dist.barrier()
        waited, multiplied = exchanger.exposed_seconds, exchanger.compute_seconds
        start = time.perf_counter()
        run()
        totals.append(time.perf_counter() - start)
        exposed.append(exchanger.exposed_seconds - waited)
        computing.append(exchanger.compute_seconds - multiplied)
    return statistics.median(totals), statistics.median(exposed), statistics.median(computing)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-major", type=int, default=400)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--neighborhood", default="adjacency_1")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    complex_ = torus_mesh(args.n_major, args.n_major // 2)
    parts = assign_cells(complex_, world_size, "metis")
    shard = build_shards(complex_, parts, [args.neighborhood], world_size)[rank]
    partitioned = PartitionedComplex(shard, device=device, validate=False)
    neighborhood = partitioned.neighborhood(args.neighborhood)
    exchanger = neighborhood.exchanger
    generator = torch.Generator().manual_seed(rank)
    x = torch.randn(exchanger.n_owned, args.channels, generator=generator).to(device)
    x_extended = torch.cat([x, exchange_halo(x, exchanger)], dim=-2)
    local = neighborhood_index(neighborhood.local).rows  # the local CSR product: the baseline
    local_t = local.T
    weights = torch.randn(local.shape[0], args.channels, generator=generator).to(device)
    # fresh inputs for every run, made before timing, so that no halo is reused from the cache
    inputs = iter([x.clone() for _ in range(args.repeats + 1)])
    leaves = iter([x.clone().requires_grad_() for _ in range(args.repeats + 1)])
    x_grad = x.clone().requires_grad_()

    def compute():
        local.matmul(x_extended)
        sync()

    def exchange():
        exchange_halo(x, exchanger)
        sync()

    def product():
        neighborhood @ next(inputs)
        sync()

    def compute_backward():
        local.matmul(x_extended)
        local_t.matmul(weights)  # what backward multiplies
        sync()

    def exchange_backward():
        exchange_halo(x_grad, exchanger).sum().backward()
        sync()

    def product_backward():
        ((neighborhood @ next(leaves)) * weights).sum().backward()
        sync()

    sent_before = exchanger.bytes_sent
    exchange_halo(x, exchanger)
    bytes_per_forward = exchanger.bytes_sent - sent_before
    plan_bytes = int(shard.halo_plans[neighborhood.ranks[1]].send_counts.sum()) * args.channels * 4

    results = {}
    for label, run in [
        ("forward", (compute, exchange, product)),
        ("forward+backward", (compute_backward, exchange_backward, product_backward)),
    ]:
        baseline_s = timed(run[0], args.repeats, exchanger)[0]
        exchange_s = timed(run[1], args.repeats, exchanger)[0]
        product_s, exposed_s, compute_s = timed(run[2], args.repeats, exchanger)
        results[label] = [baseline_s, compute_s, exchange_s, product_s, exposed_s]
    slowest = torch.tensor([v for values in results.values() for v in values], dtype=torch.float64, device=device)
    dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
    counts = torch.tensor([bytes_per_forward, plan_bytes, exchanger.n_halo], dtype=torch.float64, device=device)
    dist.all_reduce(counts)
    if rank == 0:
        device_name = torch.cuda.get_device_name(device) if cuda else "CPU (gloo)"
        print(
            f"P = {world_size} on {device_name}, {args.threads} thread(s) per rank; {args.neighborhood} of torus "
            f"{args.n_major}x{args.n_major // 2} ({complex_.n_cells[1]:,} edges), {args.channels} channels; "
            f"halo rows (all parts) {int(counts[2]):,}; bytes sent per forward (all parts) {int(counts[0]):,} "
            f"= plan {int(counts[1]):,}: {'yes' if counts[0] == counts[1] else 'NO'}"
        )
        print("| pass | P | CSR alone ms | product ms | its compute ms | its exposed wait ms | exchange alone ms | hidden |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for index, label in enumerate(results):
            baseline_s, compute_s, exchange_s, product_s, exposed_s = slowest[5 * index : 5 * index + 5].tolist()
            hidden = f"{1 - exposed_s / exchange_s:.0%}" if exchange_s > 0 and world_size > 1 else "-"
            print(
                f"| {label} | {world_size} | {baseline_s * 1e3:.2f} | {product_s * 1e3:.2f} | {compute_s * 1e3:.2f} | "
                f"{exposed_s * 1e3:.2f} | {exchange_s * 1e3:.2f} | {hidden} |"
            )
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
