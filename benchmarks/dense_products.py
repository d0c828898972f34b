"""Dense products of cell features by a weight: torch's (MKL) against topodist's (oneDNN), forward and backward.

    python -m benchmarks.dense_products --threads 2
    python -m benchmarks.dense_products --threads 1 --shapes 166464:32:32 83232:32:32
    python -m benchmarks.dense_products --threads 2 --cold

For each ``rows:in:out`` shape, float32 on the CPU, the medians (torch's and
topodist's timed in turn, round by round) of:

- ``x @ W``: ``torch.matmul`` against :func:`topodist.ops.dense.matmul`;
- ``grad @ W^T``: the input's gradient (the same product, transposed weight);
- ``x^T grad``: the weight's gradient, ``x.T @ grad`` against
  :func:`topodist.ops.dense.rows_inner` (oneDNN's convolution backward-weights);
- ``forward + backward`` of ``(x @ W).sum()`` through each, every gradient.

``--cold`` writes a buffer of ``EVICTION_MIB`` MiB (four times the L3 cache of
the machine in BENCHMARKS.md) before every call, untimed, so that each product
reads its operands from memory, as a training step's products mostly do.

GFLOP/s count ``2 * rows * in * out`` per product. The default shapes are
those of the zoo benchmark (a 200 x 200 torus's nodes and edges, 64 channels)
and of the scaling benchmark's 1M-cell complex at one and two ranks (its
nodes, 32 channels).
"""

import argparse
import platform
import statistics

import torch

from benchmarks.timing import interleaved_seconds, progress
from topodist.ops import dense

SHAPES = ("40000:64:64", "120000:64:64", "1600:64:64", "166464:32:32", "83232:32:32", "40000:64:8", "40000:8:64")
EVICTION_MIB = 128


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="*", default=list(SHAPES), help="rows:in:out")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--cold", action="store_true", help=f"write {EVICTION_MIB} MiB before every call, untimed")
    arguments = parser.parse_args()
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    before = None
    if arguments.cold:
        eviction = torch.empty(EVICTION_MIB << 18)  # float32: 4 bytes each

        def before() -> None:
            eviction.fill_(1.0)

    print(f"{platform.machine()} CPU, torch {torch.__version__}, {torch.get_num_threads()} thread(s), oneDNN "
          f"{'available' if dense.onednn_available() else 'missing: both columns are torch'}, operands "
          f"{'out of cache' if arguments.cold else 'as the previous call left them'}")
    print("| rows x in x out | product | torch ms | topodist ms | torch GFLOP/s | topodist GFLOP/s | speedup |")
    print("|---|---|---:|---:|---:|---:|---:|")
    generator = torch.Generator().manual_seed(0)
    for shape in progress(arguments.shapes, "shapes"):
        rows, n_in, n_out = (int(part) for part in shape.split(":"))
        x = torch.randn(rows, n_in, generator=generator)
        weight = torch.randn(n_in, n_out, generator=generator)
        grad = torch.randn(rows, n_out, generator=generator)
        x_leaf, weight_leaf = x.clone().requires_grad_(), weight.clone().requires_grad_()
        cases = {
            "x @ W": (lambda: torch.matmul(x, weight), lambda: dense.matmul(x, weight)),
            "grad @ W^T": (lambda: torch.matmul(grad, weight.T), lambda: dense.matmul(grad, weight.T)),
            "x^T grad": (lambda: x.T @ grad, lambda: dense.rows_inner(x, grad)),
            "forward + backward": (
                lambda: torch.matmul(x_leaf, weight_leaf).backward(grad),
                lambda: dense.matmul(x_leaf, weight_leaf).backward(grad),
            ),
        }
        for label, (theirs, ours) in cases.items():
            flop = 2 * rows * n_in * n_out * (3 if label == "forward + backward" else 1)
            rounds = interleaved_seconds({"torch": theirs, "topodist": ours}, arguments.repeats, f"{shape} {label}",
                                         before=before)
            seconds = [statistics.median(rounds[side]) for side in ("torch", "topodist")]
            print(f"| {rows} x {n_in} x {n_out} | {label} | {seconds[0] * 1e3:.3f} | {seconds[1] * 1e3:.3f} | "
                  f"{flop / seconds[0] / 1e9:.0f} | {flop / seconds[1] / 1e9:.0f} | {seconds[0] / seconds[1]:.2f} |")


if __name__ == "__main__":
    main()
