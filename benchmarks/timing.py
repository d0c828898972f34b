"""What every benchmark shares: median wall times, progress bars on long runs, the device's description.

Progress goes to stderr through tqdm and appears only once a loop has run for
``PROGRESS_DELAY_S`` seconds, so quick runs print nothing but their tables.
"""

import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable

import torch
from tqdm import tqdm

PROGRESS_DELAY_S = 2.0


def progress(items: Iterable, description: str, total: int | None = None) -> Iterable:
    """``items``, with a progress bar on stderr once the loop runs longer than a couple of seconds."""
    return tqdm(items, desc=description, total=total, delay=PROGRESS_DELAY_S, file=sys.stderr, leave=False)


def median_seconds(
    run: Callable[[], object],
    repeats: int,
    description: str = "",
    warmup: int = 1,
    before: Callable[[], object] | None = None,
) -> float:
    """Median wall time of ``run()`` over ``repeats`` calls, after ``warmup`` calls.

    Parameters
    ----------
    run : callable
        What to time; its result is dropped.
    repeats : int
        Timed calls.
    description : str, default=""
        Label of the progress bar.
    warmup : int, default=1
        Untimed calls first (compilation, caches, allocator).
    before : callable, optional
        Run, untimed, before every call (to evict the caches, say).

    Returns
    -------
    float
        Seconds.
    """
    times = []
    for step in progress(range(warmup + repeats), description or "timing"):
        if before is not None:
            before()
        start = time.perf_counter()
        run()
        if step >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def device_description(device) -> str:
    """The GPU's name, or the CPU's and torch's thread count: what a benchmark's header names."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
