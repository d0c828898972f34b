"""Where a training step's memory goes: the peak bytes a cell, by step and by what holds them at the peak.

    python -m benchmarks.step_memory --cells 4000000 16000000 88000000   # on a GPU
    python -m benchmarks.step_memory --device cpu --cells 1000000       # the caches only

HSN (``--channels`` wide, 2 layers, float32) trains on the nodes of a
triangulated torus on one device, as :mod:`benchmarks.one_device` runs it.
For each size it reports the bytes topodist's neighborhood caches hold after
two steps (CSR forms, transposes, kept entries: beyond the neighborhoods
themselves). On a CUDA device also the bytes held before any step
(neighborhoods, features, parameters), then the peak of the first step (which
also builds every neighborhood's CSR form and transpose) and of the second, in
bytes a cell. At each peak the live allocations, replayed from the CUDA caching
allocator's history, are grouped by the line of topodist (or of this benchmark)
that made them; allocations made outside Python (the autograd engine's
gradients) are grouped by size, named after the tensor they match (node
features, edge features, one int64 per entry of ``B1``, ...). A holder whose
bytes a cell grow with the size is what makes the peak grow faster than the
cells. Then what stays allocated once everything of a size is released.
"""

import argparse
import gc
from collections import Counter
from collections.abc import Iterable

import torch

from benchmarks.one_device import hsn_step
from benchmarks.scaling import torus_cells
from benchmarks.timing import device_description, progress

BEFORE_THE_STEP = "held before the step"
ALLOCATOR_ROUNDING = 512  # the caching allocator's block sizes are multiples of this many bytes


def site(frames: list[dict]) -> str | None:
    """The innermost frame of topodist or of the benchmarks, as ``path:line function``; None without one."""
    for frame in frames:
        filename = frame["filename"].replace("\\", "/")
        for package in ("/topodist/", "/benchmarks/"):
            if package in filename and "site-packages" not in filename:
                relative = package.strip("/") + "/" + filename.rsplit(package, 1)[1]
                return f"{relative}:{frame['line']} {frame['name']}"
    return None


def size_name(size: int, units: dict[str, int]) -> str:
    """``size`` bytes named as a whole number (1-4) of one of ``units``, or in MiB when none matches."""
    for multiple in (1, 2, 3, 4):
        for name, unit in units.items():
            if abs(size - multiple * unit) < ALLOCATOR_ROUNDING:
                return name if multiple == 1 else f"{multiple} x {name}"
    return f"{size / 2**20:.1f} MiB block"


def live_at_peak(trace: Iterable[dict], held_before: int, units: dict[str, int]) -> tuple[int, Counter]:
    """Replay an allocator history: the peak of allocated bytes, and what held them at that moment.

    Parameters
    ----------
    trace : iterable of dict
        ``torch.cuda.memory._snapshot()["device_traces"][device]``: events with
        ``action`` (``alloc``, ``free_completed``; others are skipped),
        ``addr``, ``size`` and ``frames``.
    held_before : int
        Bytes allocated when the history began (their allocations are not in it).
    units : dict of str to int
        Sizes that name allocations made outside Python (:func:`size_name`).

    Returns
    -------
    peak : int
        The most bytes allocated at once.
    holders : collections.Counter
        Bytes by holder at the peak: a :func:`site`, ``"outside Python: <size name>"``,
        or :data:`BEFORE_THE_STEP` for allocations older than the history.
    """
    live: dict[int, tuple[int, str]] = {}
    before = held_before
    current = peak = held_before
    at_peak = Counter({BEFORE_THE_STEP: held_before})
    for event in trace:
        action, address, size = event["action"], event["addr"], event["size"]
        if action == "alloc":
            holder = site(event.get("frames", [])) or f"outside Python: {size_name(size, units)}"
            live[address] = (size, holder)
            current += size
            if current > peak:
                peak = current
                at_peak = Counter({BEFORE_THE_STEP: before})
                for held, name in live.values():
                    at_peak[name] += held
        elif action == "free_completed":
            if address in live:
                current -= live.pop(address)[0]
            else:  # allocated before the history began (the last step's gradients, say)
                before -= size
                current -= size
    return peak, at_peak


def training_step(cells: int, device: torch.device, channels: int):
    """:func:`benchmarks.one_device.hsn_step`, the sizes that name its allocations, and its neighborhoods."""
    step, x_0, incidence_1, adjacency_0 = hsn_step(cells, device, channels)
    n_nodes, n_edges = x_0.shape[0], incidence_1.shape[1]
    feature = channels * x_0.element_size()
    named = [
        ("node features", n_nodes * feature),
        ("edge features", n_edges * feature),
        ("int64 per entry of B1", incidence_1._nnz() * 8),
        ("int64 per entry of A0", adjacency_0._nnz() * 8),
        ("float32 per entry of B1", incidence_1._nnz() * 4),
        ("float32 per entry of A0", adjacency_0._nnz() * 4),
        ("int64 per node", n_nodes * 8),
        ("int64 per edge", n_edges * 8),
    ]
    units: dict[str, int] = {}
    for size in dict.fromkeys(size for _, size in named):  # equal sizes (a torus's B1 and A0) share one name
        units[" or ".join(name for name, same in named if same == size)] = size
    return step, units, (incidence_1, adjacency_0)


def cached_bytes(neighborhoods: tuple) -> int:
    """Bytes of tensor memory topodist's neighborhood caches hold beyond the neighborhoods' own.

    Every entry of the cache of neighborhood entries (:mod:`topodist.ops.neighborhood`), and what
    each holds: CSR forms, transposes, row counts, entries kept for a next ``N.T``; each memory once.
    """
    from topodist.ops import neighborhood as cache
    from topodist.ops.spmm import SparseRows

    own = {part.untyped_storage().data_ptr() for n in neighborhoods for part in (n._indices(), n._values())}
    held: dict[int, int] = {}

    def visit(value) -> None:
        if isinstance(value, torch.Tensor):
            if value.layout == torch.strided and value.untyped_storage().data_ptr() not in own:
                held[value.untyped_storage().data_ptr()] = value.untyped_storage().nbytes()
        elif isinstance(value, cache.NeighborhoodIndex):
            for name in value.__slots__[:-1]:  # _target_index as it is: reading target_index would compute it
                visit(getattr(value, name))
        elif isinstance(value, SparseRows):
            for name, part in vars(value).items():
                if name != "_transpose_of":  # a weak reference back, not held
                    visit(part)
        elif isinstance(value, list | tuple):
            for part in value:
                visit(part)
        elif isinstance(value, dict):
            for part in value.values():
                visit(part)

    for entry in list(cache._INDEX_CACHE.by_tensor.values()):
        visit(entry[2:4])
    for record in cache._INDEX_CACHE.recent:
        visit((record.indices, record.index))
    return sum(held.values())


def measure(cells: int, device: torch.device, arguments) -> dict:
    """Bytes held before the steps, and each step's peak and holders at the peak."""
    step, units, neighborhoods = training_step(cells, device, arguments.channels)
    if device.type != "cuda":  # no allocator history: what the caches hold after two steps
        step()
        step()
        return {"cells": torus_cells(cells), "caches": cached_bytes(neighborhoods)}
    torch.cuda.synchronize(device)
    result = {"cells": torus_cells(cells), "held": torch.cuda.memory_allocated(device), "steps": []}
    for _ in range(2):
        torch.cuda.reset_peak_memory_stats(device)
        held_before = torch.cuda.memory_allocated(device)
        torch.cuda.memory._record_memory_history(
            "all", context="alloc", stacks="python", max_entries=arguments.max_events, device=device
        )
        try:
            step()
            trace = torch.cuda.memory._snapshot(device)["device_traces"][device.index or 0]
        finally:
            torch.cuda.memory._record_memory_history(None, device=device)
        peak, holders = live_at_peak(trace, held_before, units)
        result["steps"].append({"peak": torch.cuda.max_memory_allocated(device), "replayed": peak,
                                "holders": holders})
    result["caches"] = cached_bytes(neighborhoods)
    return result


def per_cell(size: int, cells: int) -> str:
    return f"{size / cells:.0f}"


def report(result: dict, top: int) -> None:
    cells = result["cells"]
    print(f"\n{cells:,} cells: topodist's neighborhood caches hold {result['caches'] / 2**20:.0f} MiB "
          f"({per_cell(result['caches'], cells)} B/cell) after two steps")
    if "steps" not in result:
        return
    print(f"{result['held'] / 2**20:.0f} MiB ({per_cell(result['held'], cells)} B/cell) held before the first step")
    for name, measured in zip(("first step", "second step"), result["steps"]):
        print(f"\n{name}: peak {measured['peak'] / 2**20:.0f} MiB ({per_cell(measured['peak'], cells)} B/cell; "
              f"replayed from the history: {measured['replayed'] / 2**20:.0f} MiB)")
        print("| held at the peak by | MiB | bytes a cell |")
        print("|---|---:|---:|")
        for holder, size in measured["holders"].most_common(top):
            print(f"| {holder} | {size / 2**20:.0f} | {per_cell(size, cells)} |")
    left = result["left"] / 2**20
    print(f"\nstill allocated once the model, features and neighborhoods are released: {left:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--cells", type=int, nargs="+", default=[4_000_000, 16_000_000])
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--top", type=int, default=15, help="holders listed at each peak")
    parser.add_argument("--max-events", type=int, default=1_000_000, help="allocator events recorded per step")
    arguments = parser.parse_args()
    device = torch.device(arguments.device)
    if device.type == "cuda":
        device = torch.device("cuda", device.index if device.index is not None else torch.cuda.current_device())
    print(f"HSN, {arguments.channels} channels, 2 layers, float32, one device: {device} "
          f"({device_description(device)})")
    rows = []
    for cells in progress(arguments.cells, "sizes"):
        result = measure(cells, device, arguments)
        gc.collect()
        if device.type == "cuda":
            result["left"] = torch.cuda.memory_allocated(device)
            torch.cuda.empty_cache()
        report(result, arguments.top)
        rows.append(result)
    if device.type != "cuda":
        return
    print("\n| cells | held before B/cell | caches B/cell | first step peak B/cell | second step peak B/cell |")
    print("|---:|---:|---:|---:|---:|")
    for result in rows:
        cells = result["cells"]
        peaks = " | ".join(per_cell(measured["peak"], cells) for measured in result["steps"])
        print(f"| {cells:,} | {per_cell(result['held'], cells)} | {per_cell(result['caches'], cells)} | {peaks} |")


if __name__ == "__main__":
    main()
