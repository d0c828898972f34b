"""Forward + backward of zoo models in float32 and under half-precision autocast (``bf16-mixed``).

Each model (``benchmarks/zoo_cases.py``) runs on a triangulated torus
(``--size`` x ``--size`` nodes, ``--channels`` wide features), in eval mode,
once in float32 and once inside ``torch.autocast(device, dtype)``: what
Lightning's ``--trainer.precision bf16-mixed`` (or ``16-mixed`` on a GPU)
does around every step. Dense layers then multiply in half precision,
features and halo exchanges are half the bytes, and aggregations sum in
float32 (:mod:`topodist.ops.precision`). The table gives the median wall time
of both (timed in turn, round by round:
:func:`benchmarks.timing.interleaved_seconds`), the speedup, and the relative
difference of the outputs (norm of the difference over norm of the float32
output).

    python -m benchmarks.mixed_precision --size 200 --channels 64
    python -m benchmarks.mixed_precision --device cuda --dtype bfloat16
"""

import argparse
import statistics

import torch
from lightning.fabric.utilities.apply_func import move_data_to_device

from benchmarks.timing import device_description, interleaved_seconds
from benchmarks.zoo_cases import cases
from benchmarks.zoo_vs_topomodelx import DEFAULT_MODELS, flatten, fresh, relative_difference
from topodist.data.datasets import torus_mesh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16"])
    parser.add_argument("--models", nargs="*", default=DEFAULT_MODELS, help="names, or 'all'")
    arguments = parser.parse_args()
    device, dtype = torch.device(arguments.device), getattr(torch, arguments.dtype)
    torus = torus_mesh(arguments.size, arguments.size, seed=0)
    every = cases(arguments.channels)
    names = list(every) if arguments.models == ["all"] else arguments.models
    name_of_device = device_description(device)
    print(f"torus {arguments.size} x {arguments.size}: cells {torus.n_cells}, channels {arguments.channels}, "
          f"{name_of_device}, autocast {arguments.dtype}")
    print(f"| model | float32 ms | {arguments.dtype} autocast ms | speedup | relative difference |")
    print("|---|---:|---:|---:|---:|")
    for name in names:
        case = every[name]
        model_class = case.ours_class()
        kwargs = case.kwargs | {key: move_data_to_device(make(torus), device) for key, make in case.setup.items()}
        torch.manual_seed(0)
        model = model_class(**kwargs).eval().to(device)
        inputs = move_data_to_device(case.inputs(torus, arguments.channels), device)

        def step(autocast: bool) -> None:
            with torch.autocast(device.type, dtype=dtype, enabled=autocast):
                outputs = model(*fresh(inputs))
            sum(output.float().sum() for output in flatten(outputs)).backward()
            if device.type == "cuda":
                torch.cuda.synchronize(device)

        rounds = interleaved_seconds({"float32": lambda: step(False), "autocast": lambda: step(True)},
                                     arguments.repeats, name)
        times = {label == "autocast": statistics.median(seconds) for label, seconds in rounds.items()}
        with torch.no_grad():
            expected = model(*fresh(inputs))
            with torch.autocast(device.type, dtype=dtype):
                difference = relative_difference([o.float() for o in flatten(model(*fresh(inputs)))],
                                                 flatten(expected))
        print(f"| {name} | {1e3 * times[False]:.1f} | {1e3 * times[True]:.1f} | {times[False] / times[True]:.2f} | "
              f"{difference:.1e} |")


if __name__ == "__main__":
    main()
