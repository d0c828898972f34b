"""Partition quality and speed on a triangulated torus: METIS, random and contiguous against ideal strips.

Builds ``torus_mesh(n_major, n_major // 2)`` (``n_major^2`` triangles), splits
it into ``--world-size`` parts with each method and prints, per method: halo
cells (all ranks), bytes received per exchange of every rank's features at
``--channels`` float32 channels, total edge cut, cell and nnz imbalance
(max/mean), and the seconds spent assigning cells and building the shards.

``strips`` is the ideal partition of a torus: ``P`` bands of equal width across
the major circle, each cut along a minor circle of ``n_minor`` nodes, with every
edge and triangle placed with the majority of its nodes. The ``vs strips``
column is each method's halo volume over the strips' one.

    python -m benchmarks.partition_quality --n-major 1000 --world-size 8
    python -m benchmarks.partition_quality --n-major 2582 --world-size 8 --methods metis

Peak memory is printed from ``getrusage`` (the maximum resident set size of the
process so far, complex build included).
"""

import argparse
import resource
import time

import numpy as np

from topodist.data.datasets import torus_mesh
from topodist.partition import assign_cells, build_shards, copartition_from_nodes, default_partition_neighborhoods
from topodist.partition.statistics import partition_statistics


def strips(complex_, n_major: int, n_minor: int, world_size: int) -> list[np.ndarray]:
    band = (np.arange(complex_.n_cells[0]) // n_minor) * world_size // n_major
    return copartition_from_nodes(complex_, band)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-major", type=int, default=1000)
    parser.add_argument("--world-size", type=int, default=8)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--methods", nargs="+", default=["strips", "metis", "contiguous", "random"])
    args = parser.parse_args()

    n_major, n_minor = args.n_major, args.n_major // 2
    start = time.perf_counter()
    complex_ = torus_mesh(n_major, n_minor)
    names = default_partition_neighborhoods(complex_)
    for name in names:
        complex_.matrix(name)
    print(
        f"torus {n_major}x{n_minor}: cells {complex_.n_cells} ({sum(complex_.n_cells):,} in all), "
        f"built in {time.perf_counter() - start:.1f} s; P = {args.world_size}; neighborhoods {names}"
    )
    print(
        "| method | halo cells | MiB per exchange | edge cut | cell imbalance (max over ranks) "
        "| nnz imbalance | vs strips | assign s | shards s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    reference = None
    for method in args.methods:
        start = time.perf_counter()
        if method == "strips":
            parts = strips(complex_, n_major, n_minor, args.world_size)
        else:
            parts = assign_cells(complex_, args.world_size, method, names)
        assigned = time.perf_counter()
        shards = build_shards(complex_, parts, names, args.world_size)
        built = time.perf_counter()
        statistics = partition_statistics(shards, channels=args.channels)
        halo = statistics["halo_volume"]
        reference = halo if method == "strips" else reference
        ratio = f"{halo / reference:.2f}" if reference else "-"
        print(
            f"| {method} | {halo:,} | {statistics['bytes_per_exchange'] / 2**20:.1f} | "
            f"{statistics['total_edge_cut']:,} | {max(statistics['imbalance']['cells']):.3f} | "
            f"{statistics['imbalance']['nnz']:.3f} | {ratio} | {assigned - start:.1f} | {built - assigned:.1f} |",
            flush=True,
        )
        del shards
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak resident memory: {peak:.2f} GiB")


if __name__ == "__main__":
    main()
