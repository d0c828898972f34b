"""Time the scatter backends and a message-passing layer against TopoModelX 0.0.1.

Prints one table row per (operation, implementation): median wall time of the
forward pass and of forward + backward, over ``--repeats`` runs after one warm-up.
The neighborhood is the node adjacency of a random planar-like graph with
``--cells`` nodes and ``--degree`` stored entries per row.

    python -m benchmarks.scatter_backends --cells 200000 --channels 64 --threads 1
"""

import argparse
from collections.abc import Callable

import torch

from benchmarks.timing import median_seconds
from topodist.base.message_passing import MessagePassing
from topodist.ops.scatter import scatter


def random_neighborhood(n_cells: int, degree: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    rows = torch.arange(n_cells).repeat_interleave(degree)
    offsets = torch.randint(-50, 51, (n_cells * degree,), generator=generator)
    cols = (rows + offsets).clamp(0, n_cells - 1)
    values = torch.rand(n_cells * degree, generator=generator)
    return torch.sparse_coo_tensor(
        torch.stack([rows, cols]), values, (n_cells, n_cells), check_invariants=True
    ).coalesce()


def time_forward_backward(forward: Callable[[], torch.Tensor], repeats: int) -> tuple[float, float]:
    def forward_only() -> None:
        with torch.no_grad():
            forward()

    def forward_backward() -> None:
        forward().sum().backward()

    return median_seconds(forward_only, repeats), median_seconds(forward_backward, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=200_000)
    parser.add_argument("--degree", type=int, default=6)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    neighborhood = random_neighborhood(args.cells, args.degree, seed=0)
    target, source = neighborhood.indices()
    n_messages = target.numel()
    messages = torch.randn(n_messages, args.channels, requires_grad=True)
    x = torch.randn(args.cells, args.channels, requires_grad=True)

    rows = []
    for reduce in ("sum", "mean"):
        for backend in ("native", "torch_scatter"):
            seconds = time_forward_backward(
                lambda: scatter(messages, target, 0, args.cells, reduce, backend), args.repeats
            )
            rows.append((f"scatter {reduce}", f"topodist {backend}", *seconds))

    implementations = {"topodist": MessagePassing}
    try:
        from topomodelx.base.message_passing import MessagePassing as ReferenceMessagePassing

        implementations["topomodelx 0.0.1"] = ReferenceMessagePassing
    except ImportError:
        pass
    for aggr_func in ("sum", "mean"):
        for name, layer_class in implementations.items():
            layer = layer_class(aggr_func=aggr_func)
            seconds = time_forward_backward(lambda: layer(x, neighborhood), args.repeats)
            rows.append((f"MessagePassing {aggr_func}", name, *seconds))

    print(
        f"cells={args.cells} messages={n_messages} channels={args.channels} "
        f"threads={args.threads} torch={torch.__version__}"
    )
    print("| operation | implementation | forward ms | forward+backward ms |")
    print("|---|---|---:|---:|")
    for operation, implementation, forward, forward_backward in rows:
        print(f"| {operation} | {implementation} | {forward * 1e3:.1f} | {forward_backward * 1e3:.1f} |")


if __name__ == "__main__":
    main()
