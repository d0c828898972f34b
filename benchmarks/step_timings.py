"""What the per-step observability costs: the default experiment with and without ``StepTimings``.

    python -m benchmarks.step_timings --steps 120 --repeats 3 --every 0 10 1

Runs ``topodist fit --config configs/torus_hsn.yaml`` (2 CPU ranks, W&B offline,
its defaults) for ``--steps`` steps with ``log_timings_every_n_steps`` set to
each value of ``--every`` (0: off; 10: the default; 1: gather and log every
step), in turn, ``--repeats`` times each. A small callback on rank 0 records the
time between consecutive training-batch starts: a whole training step as the
user waits for it (forward, backward, optimizer, every callback and logger,
and the validation pass each epoch of this full-batch job). The first
``--warmup`` steps are dropped; the table gives the median cycle of each run
and the overhead of the median of medians.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lightning.pytorch import Callback

ROOT = Path(__file__).resolve().parents[1]
OUTPUT_ENV = "TOPODIST_BENCHMARK_CYCLES"


class StepCycles(Callback):
    """Rank 0 writes the times of every ``on_train_batch_start`` to ``$TOPODIST_BENCHMARK_CYCLES``."""

    def __init__(self) -> None:
        self.starts: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        self.starts.append(time.perf_counter())

    def on_train_end(self, trainer, pl_module) -> None:
        if trainer.global_rank == 0:
            Path(os.environ[OUTPUT_ENV]).write_text(json.dumps(self.starts))


def run(steps: int, every: int, workdir: Path, config: Path) -> list[float]:
    output = workdir / f"cycles-{every}-{time.monotonic_ns()}.json"
    callback = json.dumps({"class_path": "benchmarks.step_timings.StepCycles"})
    env = {**os.environ, OUTPUT_ENV: str(output), "PYTHONPATH": str(ROOT)}
    env = {key: value for key, value in env.items() if not key.startswith("WANDB_")} | {"HOME": str(workdir)}
    subprocess.run(
        [sys.executable, "-m", "topodist.cli", "fit", "--config", str(config), "--trainer.max_steps", str(steps),
         f"--trainer.callbacks+={callback}", "--model.init_args.log_timings_every_n_steps", str(every)],
        cwd=workdir, env=env, check=True, capture_output=True, text=True,
    )
    starts = json.loads(output.read_text())
    return [later - earlier for earlier, later in zip(starts, starts[1:])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--every", type=int, nargs="+", default=[0, 10, 1], help="the first is the baseline")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "torus_hsn.yaml")
    arguments = parser.parse_args()
    medians = {every: [] for every in arguments.every}
    with tempfile.TemporaryDirectory() as directory:
        for repeat in range(arguments.repeats):
            for every in arguments.every:
                cycles = run(arguments.steps, every, Path(directory), arguments.config)[arguments.warmup:]
                medians[every].append(statistics.median(cycles))
                print(f"run {repeat + 1}, every {every}: median step {medians[every][-1] * 1e3:.2f} ms", file=sys.stderr)
    print(f"{arguments.config.name}, {arguments.steps} steps ({arguments.warmup} warm-up), {arguments.repeats} runs each")
    print("| log_timings_every_n_steps | median step per run (ms) | median (ms) | vs. first row |")
    print("|---:|---|---:|---:|")
    baseline = statistics.median(medians[arguments.every[0]])
    for every, values in medians.items():
        middle = statistics.median(values)
        runs = ", ".join(f"{value * 1e3:.2f}" for value in values)
        print(f"| {every} | {runs} | {middle * 1e3:.2f} | {(middle - baseline) / baseline * 100:+.1f}% |")


if __name__ == "__main__":
    main()
