"""Roofline of linear aggregation: the CSR product's bytes per second against a measured copy.

    python -m benchmarks.spmm_roofline --size 200 --channels 64 --threads 2

For each neighborhood of a ``--size`` x ``--size`` triangulated torus, the
forward product ``N @ x`` (``x`` of ``--channels`` float32 channels) through:

- ``topodist``: :class:`topodist.ops.spmm.SparseRows` (the row-block kernel on
  CPU; torch's CSR product, i.e. cuSPARSE, on a GPU);
- ``torch CSR`` and ``torch COO``: ``torch.sparse.mm`` on the same matrix;
- ``gather+scatter``: one message per stored entry, then a scatter (what
  topodist did before, and what attention still does).

Bytes are the least any product must move: read ``x`` and the CSR arrays
(row pointers, columns, values) once, write ``y`` once. The copy bandwidth is
measured on the same device by ``copy_`` into a tensor allocated once
(a fresh target would add page faults, which the products mostly escape by
reusing freed memory), moving the bytes of the largest product: once first
(the header line), and again for every neighborhood in the same rounds as
its products (:func:`benchmarks.timing.interleaved_seconds`: each round runs
the copy and every implementation once, in turn), which is the copy that
row's ``of copy`` divides by, so that a machine whose speed drifts moves
both alike. Medians over ``--repeats`` rounds after a warm-up. Runs on the
GPU as well when one is present (``--device cuda``).
"""

import argparse
import platform
import statistics

import torch

from benchmarks.timing import interleaved_seconds, median_seconds, progress
from topodist.data.datasets import torus_mesh
from topodist.ops.neighborhood import neighborhood_index, propagate

NEIGHBORHOODS = ("adjacency_0", "incidence_1", "incidence_1.T", "adjacency_1", "incidence_2.T", "coadjacency_2")


def synchronizer(device: torch.device):
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def copy_run(n_bytes: int, device: torch.device):
    """``target.copy_(source)`` reading and writing ``n_bytes / 2`` each, and the bytes it moves."""
    sync = synchronizer(device)
    source = torch.randn(n_bytes // 8, device=device)
    target = torch.empty_like(source)

    def copy():
        target.copy_(source)
        sync()

    return copy, 2 * source.numel() * source.element_size()


def product_bytes(rows, channels: int, element_size: int) -> int:
    n_rows, n_columns = rows.shape
    return (n_rows + n_columns) * channels * element_size + (n_rows + 1) * 8 + rows.nnz * (8 + element_size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--neighborhoods", nargs="*", default=list(NEIGHBORHOODS))
    arguments = parser.parse_args()
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    device = torch.device(arguments.device)
    sync = synchronizer(device)
    complex_ = torus_mesh(arguments.size, arguments.size, seed=0)
    described = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    print(f"torus {arguments.size} x {arguments.size}: cells {complex_.n_cells}, {arguments.channels} float32 "
          f"channels, device {device} ({described}), threads {torch.get_num_threads()}")

    rows_by_name = {}
    for name in arguments.neighborhoods:
        matrix = complex_.neighborhood(name).coalesce().to(device)
        rows_by_name[name] = (matrix, neighborhood_index(matrix))
    largest = max(product_bytes(index.rows, arguments.channels, 4) for _, index in rows_by_name.values())
    copy, moved = copy_run(largest, device)  # timed alone first (the header), then in every neighborhood's rounds
    print(f"copy bandwidth: {moved / median_seconds(copy, arguments.repeats, 'copy') / 1e9:.1f} GB/s "
          f"({largest / 2 ** 20:.0f} MiB moved)")
    print("| neighborhood | shape | nnz | implementation | ms | GB/s | of copy | copy GB/s, same rounds |")
    print("|---|---|---:|---|---:|---:|---:|---:|")
    for name, (matrix, index) in progress(rows_by_name.items(), "neighborhoods"):
        rows = index.rows
        x = torch.randn(rows.shape[1], arguments.channels, device=device)
        csr = matrix.to_sparse_csr()
        explicit_values = index.values.clone()  # not the neighborhood's own: forces gather + scatter
        implementations = {
            "topodist": lambda: rows.matmul(x),
            "torch CSR": lambda: torch.sparse.mm(csr, x),
            "torch COO": lambda: torch.sparse.mm(matrix, x),
            "gather+scatter": lambda: propagate(index, x, explicit_values),
        }
        n_bytes = product_bytes(rows, arguments.channels, 4)
        runs = {"copy": copy} | {label: (lambda run=run: (run(), sync())) for label, run in implementations.items()}
        rounds = interleaved_seconds(runs, arguments.repeats, name)
        bandwidth = moved / statistics.median(rounds["copy"])
        for label in implementations:
            seconds = statistics.median(rounds[label])
            achieved = n_bytes / seconds
            print(f"| {name} | {rows.shape[0]} x {rows.shape[1]} | {rows.nnz} | {label} | {seconds * 1e3:.2f} | "
                  f"{achieved / 1e9:.1f} | {achieved / bandwidth:.0%} | {bandwidth / 1e9:.1f} |")


if __name__ == "__main__":
    main()
