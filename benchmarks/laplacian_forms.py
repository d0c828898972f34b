"""Training with Laplacians assembled, factored or chosen per Laplacian (``data.init_args.laplacians``).

    python -m benchmarks.laplacian_forms --source rgg:20000:0.02 --devices 2 --steps 12

Runs ``topodist fit`` on the SCNN config (``configs/torus_edges_scnn.yaml``:
polynomial filters in the scaled down and up Laplacians of the edges) on
``--source`` once per ``--modes`` entry, ``--devices`` CPU ranks (forked
DDP), and reads what the run logged (``StepTimings``): the median over the
logged windows of the mean step time, the halo exchange time and bytes
received per step (all ranks), the setup time (partition and shards), and the
first and last losses, which must agree between the modes.
"""

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.timing import progress

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "torus_edges_scnn.yaml"


def run(source: str, mode: str, devices: int, steps: int, directory: Path) -> dict:
    every = max(steps // 3, 1)
    command = [
        sys.executable, "-m", "topodist.cli", "fit", "--config", str(CONFIG), "--data.init_args.source", source,
        "--data.init_args.laplacians", mode, "--trainer.devices", str(devices), "--trainer.max_steps", str(steps),
        "--model.init_args.log_timings_every_n_steps", str(every),
        "--trainer.logger", "lightning.pytorch.loggers.CSVLogger",
        "--trainer.logger.save_dir", str(directory), *(["--trainer.strategy", "ddp_fork"] if devices > 1 else []),
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=directory)
    if result.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    (metrics,) = directory.glob("**/metrics.csv")
    rows = list(csv.DictReader(metrics.open()))

    def values(key):
        return [float(row[key]) for row in rows if row.get(key)]

    received = [sum(float(row[key]) for key in row if key.startswith("halo/bytes_received/rank_") and row[key])
                for row in rows if row.get("perf/step_seconds/mean")]
    forms = sorted({line.split(": ")[0] + ": " + line.split(": ")[1].split(" ")[0]
                    for line in (result.stdout + result.stderr).splitlines() if "data.init_args.laplacians=" in line})
    return {
        "step": statistics.median(values("perf/step_seconds/mean")),
        "halo": statistics.median(values("perf/halo_seconds/mean")),
        "bytes": statistics.median(received) if received else 0.0,
        "setup": max(values("perf/setup_seconds/max")),
        "losses": values("train/loss"),
        "forms": forms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="rgg:20000:0.02")
    parser.add_argument("--devices", type=int, default=2)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--modes", nargs="*", default=["assembled", "auto", "factored"])
    arguments = parser.parse_args()
    print(f"SCNN on {arguments.source}, {arguments.devices} CPU ranks, {arguments.steps} steps")
    print("| laplacians | forms | step ms | halo ms | halo MB received per step | setup s | first loss | last loss |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for mode in progress(arguments.modes, "modes"):
        with tempfile.TemporaryDirectory() as directory:
            measured = run(arguments.source, mode, arguments.devices, arguments.steps, Path(directory))
        print(f"| {mode} | {'; '.join(measured['forms'])} | {measured['step'] * 1e3:.1f} | "
              f"{measured['halo'] * 1e3:.1f} | {measured['bytes'] / 1e6:.2f} | {measured['setup']:.1f} | "
              f"{measured['losses'][0]:.6f} | {measured['losses'][-1]:.6f} |")


if __name__ == "__main__":
    main()
