"""One device: the training step (one epoch of the full-batch job) and the largest complex it trains.

    python -m benchmarks.one_device --device cuda --cells 1000000
    python -m benchmarks.one_device --device cuda --cells 1000000 --largest

HSN (``--channels`` wide, 2 layers, float32) trains on the nodes of a
triangulated torus of about ``--cells`` cells (nodes + edges + triangles) on
one device, no process group: forward, backward and an SGD step, the median of
``--steps`` steps after a warm-up. ``--largest`` then finds the largest
complex a step fits in the device's memory: it measures a complex four times
larger, fits the peak memory as a line in the cells, predicts how many cells
the free memory holds, and trains 0.92 and 1.08 times that many. While a step
does not fit it steps down by 0.85; then it halves the gap between the largest
size that trained and the smallest that did not until that gap is at most 5%
(at most ``--attempts`` sizes after the first two); never more than
``--max-cells``. It reports each size, why a size did not fit (the allocator's
message) and the largest that trained. Peak memory is
``torch.cuda.max_memory_allocated`` on a GPU and the process's peak resident
size on the CPU.
"""

import argparse
import gc

import torch

from benchmarks.scaling import peak_resident_bytes, torus_cells, torus_side
from benchmarks.timing import device_description, median_seconds, progress


def peak_bytes(device: torch.device) -> int:
    return torch.cuda.max_memory_allocated(device) if device.type == "cuda" else peak_resident_bytes()


def hsn_step(cells: int, device: torch.device, channels: int):
    """One training step of HSN on a torus of about ``cells`` cells on ``device``, and what it trains on.

    Returns
    -------
    step : callable
        Forward, backward and an SGD step (synchronized on a GPU).
    x_0 : torch.Tensor, shape = (n_nodes, channels)
    incidence_1, adjacency_0 : torch.sparse
    """
    from topodist.data.datasets import torus_mesh
    from topodist.nn.simplicial.hsn import HSN

    side = torus_side(cells)
    complex_ = torus_mesh(side, side, seed=0)
    incidence_1 = complex_.neighborhood("incidence_1").to(device)
    adjacency_0 = complex_.neighborhood("adjacency_0").to(device)
    n_nodes = complex_.n_cells[0]
    del complex_
    x_0 = torch.randn(n_nodes, channels, generator=torch.Generator().manual_seed(0)).to(device)
    torch.manual_seed(0)
    model = HSN(channels=channels, n_layers=2).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)

    def step() -> None:
        optimizer.zero_grad()
        model(x_0, incidence_1, adjacency_0).square().mean().backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    return step, x_0, incidence_1, adjacency_0


def train_steps(cells: int, device: torch.device, arguments) -> dict:
    step = hsn_step(cells, device, arguments.channels)[0]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    step_s = median_seconds(step, arguments.steps, f"{torus_cells(cells):,} cells", arguments.warmup)
    return {"cells": torus_cells(cells), "step_s": step_s, "peak": peak_bytes(device)}


def out_of_memory(error: BaseException) -> bool:
    return isinstance(error, MemoryError | torch.OutOfMemoryError) or "out of memory" in str(error).lower()


def free_memory_bytes(device: torch.device) -> int:
    """What a larger complex could take: the GPU's free memory, or the CPU's available memory (Linux)."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
        return torch.cuda.mem_get_info(device)[0]
    with open("/proc/meminfo") as meminfo:
        fields = dict(line.split(":", 1) for line in meminfo)
    return int(fields["MemAvailable"].split()[0]) * 1024


def predicted_largest(rows: list[dict], free_bytes: int) -> tuple[float, int]:
    """Bytes per cell (the slope of peak memory between the first two rows) and the cells ``free_bytes`` holds.

    A slope of 0 or less (the CPU's high-water mark can stay where it was) predicts nothing: 0 cells.
    """
    (small, large) = rows[:2]
    per_cell = (large["peak"] - small["peak"]) / (large["cells"] - small["cells"])
    fixed = small["peak"] - per_cell * small["cells"]
    return per_cell, int((free_bytes - fixed) / per_cell) if per_cell > 0 else 0


def next_size(trained: int, too_large: int | None, planned: list[int], gap: float = 0.05) -> int | None:
    """The next size ``--largest`` tries, or None when it is done.

    Parameters
    ----------
    trained : int
        The most cells that trained so far.
    too_large : int or None
        The fewest cells that did not fit so far (None: every size fit).
    planned : list of int
        Sizes still to try around the prediction, in order; each is used (and
        removed) only while it lies between ``trained`` and ``too_large``.
    gap : float, default=0.05
        Stop once ``too_large`` is at most ``1 + gap`` times ``trained``.

    Returns
    -------
    int or None
        Cells to try: a planned size; below a size that did not fit, 0.85 times
        it while that is above ``trained``; otherwise the middle of the gap.
    """
    unknown = too_large is None

    def informative(cells: int) -> bool:  # a torus neither known to train nor known not to fit
        return torus_cells(cells) > trained and (unknown or torus_cells(cells) < too_large)

    while planned:
        cells = planned.pop(0)
        if informative(cells):
            return cells
    if unknown or too_large <= (1 + gap) * trained:
        return None
    for cells in (round(0.85 * too_large), (trained + too_large) // 2):
        if informative(cells):
            return cells
    return None


def row(result: dict | None, cells: int) -> str:
    if result is None:
        return f"| {cells:,} | | | out of memory |"
    return f"| {result['cells']:,} | {result['step_s'] * 1e3:.1f} | {result['peak'] / 2**20:.0f} | yes |"


def attempt(cells: int, device: torch.device, arguments) -> dict | None:
    """A row's result, or None when the step did not fit."""
    try:
        return train_steps(cells, device, arguments)
    except (RuntimeError, MemoryError) as error:
        if not out_of_memory(error):
            raise
        # what the allocator says (how much was free, how much reserved but unallocated), not its advice
        reason = " ".join(str(error).split()).split(" If reserved")[0]
        print(f"{torus_cells(cells):,} cells did not fit: {reason}", flush=True)
        return None
    finally:
        # what a failed attempt held goes before the next: some of it can sit in reference cycles (torch's first
        # optimizer keeps its caller's frame in one), which only the garbage collector frees
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--cells", type=int, default=1_000_000)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--largest", action="store_true", help="find the largest complex a step fits")
    parser.add_argument("--max-cells", type=int, default=None, help="never try more cells than this")
    parser.add_argument("--attempts", type=int, default=6, help="sizes --largest tries after the first two")
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
    sizes = [arguments.cells] + ([min(4 * arguments.cells, arguments.max_cells)] if arguments.largest else [])
    rows = []
    for cells in progress(sizes, "sizes"):
        result = attempt(cells, device, arguments)
        print(row(result, cells), flush=True)
        if result is None:
            return
        rows.append(result)
    if not arguments.largest:
        return
    trained, too_large = rows[-1]["cells"], None
    distinct = rows[1]["cells"] > rows[0]["cells"]
    per_cell, predicted = predicted_largest(rows, free_memory_bytes(device)) if distinct else (0, 0)
    if per_cell > 0:
        print(f"peak memory grows by {per_cell:,.0f} bytes a cell: about {predicted:,} cells fit")
        planned = [round(0.92 * predicted), round(1.08 * predicted)]  # one below the prediction, one above
    else:  # the CPU's high-water mark may not move between small sizes
        print("peak memory did not grow between the first two sizes: trying --max-cells")
        planned = [arguments.max_cells]
    cap = torus_cells(arguments.max_cells)
    for _ in progress(range(arguments.attempts), "largest"):
        if trained >= cap:
            break
        cells = next_size(trained, too_large, planned)
        if cells is None:
            break
        cells = min(cells, arguments.max_cells)
        result = attempt(cells, device, arguments)
        print(row(result, torus_cells(cells)), flush=True)
        if result is None:
            too_large = torus_cells(cells) if too_large is None else min(too_large, torus_cells(cells))
        else:
            trained = max(trained, result["cells"])
    if too_large:
        bound = f"{too_large:,} cells did not fit"
    else:
        bound = "the --max-cells bound" if trained >= cap else "every size tried fit"
    print(f"largest complex trained: {trained:,} cells ({bound})")


if __name__ == "__main__":
    main()
