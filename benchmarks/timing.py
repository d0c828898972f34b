"""What every benchmark shares: median wall times, progress bars on long runs, the device's description.

Where two things are compared on a machine whose speed drifts over seconds
(a shared VM), :func:`interleaved_seconds` times them in turn, so every
round sees the same machine; timing one after the other puts the drift
into their ratio.

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


def interleaved_seconds(
    runs: dict[str, Callable[[], object]],
    repeats: int,
    description: str = "",
    warmup: int = 1,
    before: Callable[[], object] | None = None,
) -> dict[str, list[float]]:
    """Wall times of several callables timed in turn: each round calls every one once.

    The order alternates from round to round (forward, then reversed), so no
    callable always runs right after the same other one.

    Parameters
    ----------
    runs : dict of str to callable
        What to time, by label; results are dropped.
    repeats : int
        Timed rounds.
    description : str, default=""
        Label of the progress bar.
    warmup : int, default=1
        Untimed rounds first.
    before : callable, optional
        Run, untimed, before every call (to evict the caches, say).

    Returns
    -------
    dict of str to list of float
        Each label's seconds, one per timed round, in round order (``repeats`` each).
    """
    labels = list(runs)
    times: dict[str, list[float]] = {label: [] for label in labels}
    for round_ in progress(range(warmup + repeats), description or "timing"):
        for label in labels if round_ % 2 == 0 else reversed(labels):
            if before is not None:
                before()
            start = time.perf_counter()
            runs[label]()
            if round_ >= warmup:
                times[label].append(time.perf_counter() - start)
    return times


def ratio_range(numerators: list[float], denominators: list[float]) -> tuple[float, float]:
    """Smallest and largest ratio of rounds timed together (``numerators[i] / denominators[i]``).

    Parameters
    ----------
    numerators, denominators : list of float, shape = (n_rounds,)

    Returns
    -------
    tuple of float
        ``(min, max)``.
    """
    ratios = [top / bottom for top, bottom in zip(numerators, denominators, strict=True)]
    return min(ratios), max(ratios)


def device_description(device) -> str:
    """The GPU's name, or the CPU's and torch's thread count: what a benchmark's header names."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
