"""One device: the training step (one epoch of the full-batch job) and the largest complex it trains.

    python -m benchmarks.one_device --device cuda --cells 1000000
    python -m benchmarks.one_device --device cuda --cells 1000000 --largest

HSN (``--channels`` wide, 2 layers, float32) trains on the nodes of a
triangulated torus of about ``--cells`` cells (nodes + edges + triangles) on
one device, no process group: forward, backward and an SGD step, the median of
``--steps`` steps after a warm-up. ``--largest`` then doubles the cells until
a step no longer fits in the device's memory (or ``--max-cells``) and reports
each size; the last row that trained is the largest complex one device
trains. Peak memory is ``torch.cuda.max_memory_allocated`` on a GPU and the
process's peak resident size on the CPU.
"""

import argparse

import torch

from benchmarks.scaling import peak_resident_bytes, torus_side
from benchmarks.timing import device_description, median_seconds, progress


def peak_bytes(device: torch.device) -> int:
    return torch.cuda.max_memory_allocated(device) if device.type == "cuda" else peak_resident_bytes()


def train_steps(cells: int, device: torch.device, arguments) -> dict:
    from topodist.data.datasets import torus_mesh
    from topodist.nn.simplicial.hsn import HSN

    side = torus_side(cells)
    complex_ = torus_mesh(side, side, seed=0)
    incidence_1 = complex_.neighborhood("incidence_1").to(device)
    adjacency_0 = complex_.neighborhood("adjacency_0").to(device)
    n_nodes = complex_.n_cells[0]
    del complex_
    x_0 = torch.randn(n_nodes, arguments.channels, generator=torch.Generator().manual_seed(0)).to(device)
    torch.manual_seed(0)
    model = HSN(channels=arguments.channels, n_layers=2).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def step() -> None:
        optimizer.zero_grad()
        model(x_0, incidence_1, adjacency_0).square().mean().backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    step_s = median_seconds(step, arguments.steps, f"{6 * side * side:,} cells", arguments.warmup)
    return {"cells": 6 * side * side, "step_s": step_s, "peak": peak_bytes(device)}


def out_of_memory(error: BaseException) -> bool:
    return isinstance(error, MemoryError | torch.OutOfMemoryError) or "out of memory" in str(error).lower()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--cells", type=int, default=1_000_000)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--largest", action="store_true", help="double the cells until a step does not fit")
    parser.add_argument("--max-cells", type=int, default=None, help="stop the doubling there")
    arguments = parser.parse_args()
    device = torch.device(arguments.device)
    if arguments.largest and arguments.max_cells is None:
        if device.type != "cuda":
            parser.error("--largest on the CPU needs --max-cells: the kernel's OOM killer ends the process, "
                         "nothing raises")
        arguments.max_cells = 2_000_000_000
    described = device_description(device)
    print(f"HSN, {arguments.channels} channels, 2 layers, float32, one device: {device} ({described})")
    print("| cells | step (= epoch) ms | peak memory MiB | trained |")
    print("|---:|---:|---:|---|")
    sizes = [arguments.cells]
    while arguments.largest and sizes[-1] * 2 <= arguments.max_cells:
        sizes.append(sizes[-1] * 2)
    for cells in progress(sizes, "sizes"):
        try:
            result = train_steps(cells, device, arguments)
        except (RuntimeError, MemoryError) as error:
            if not out_of_memory(error):
                raise
            print(f"| {6 * torus_side(cells) ** 2:,} | | | out of memory |")
            break
        finally:
            if device.type == "cuda":
                torch.cuda.empty_cache()
        print(f"| {result['cells']:,} | {result['step_s'] * 1e3:.1f} | {result['peak'] / 2**20:.0f} | yes |")


if __name__ == "__main__":
    main()
