"""Forward + backward of zoo models against TopoModelX 0.0.1: same weights, same inputs, one complex.

Each model and its TopoModelX original (``benchmarks/zoo_cases.py``) load the
same state_dict, run in eval mode (no dropout draws, batch norms on running
statistics) on a triangulated torus (``--size`` x ``--size`` nodes,
``--channels`` wide features on every rank), and the table gives the median
wall time of forward + backward (of the sum of the outputs) over ``--repeats``
rounds after a warm-up round, the speedup, and the largest relative difference
of the outputs. Each round times topodist's step and TopoModelX's in turn
(:func:`benchmarks.timing.interleaved_seconds`), so a machine whose speed
drifts slows both alike; with more than one round the speedup cell also
gives the range of the rounds' own ratios, ``median (least-most)``. Models
whose TopoModelX original densifies a matrix over cells (an identity, an
incidence, a Laplacian) or loops over cells in Python are left out above
``--dense-limit`` nodes per side: at 200 x 200 those matrices take 6-58 GB.

    python -m benchmarks.zoo_vs_topomodelx --size 200 --channels 64 --repeats 5
    python -m benchmarks.zoo_vs_topomodelx --size 40 --channels 64 --repeats 5 --models all

With ``--floor``, each model also runs, in the same rounds, with every CSR
product (forward and backward) replaced by writing a zero output of its shape
(:func:`products_only_write_outputs`): what is left is the model's other work
(dense matmuls, activations, Python), and TopoModelX's time over it bounds the
speedup any faster aggregation could give.

    python -m benchmarks.zoo_vs_topomodelx --size 200 --channels 64 --repeats 5 --floor
"""

import argparse
import statistics
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from lightning.fabric.utilities.apply_func import move_data_to_device

from benchmarks.timing import device_description, interleaved_seconds, ratio_range
from benchmarks.zoo_cases import cases
from topodist.data.datasets import torus_mesh
from topodist.ops.spmm import SparseRows

DEFAULT_MODELS = ["HSN", "SCN2", "CWN", "UniGCN"]


def flatten(outputs) -> list[torch.Tensor]:
    if isinstance(outputs, dict):
        return [value for _, value in sorted(outputs.items())]
    if isinstance(outputs, tuple | list):
        return [tensor for output in outputs for tensor in flatten(output)]
    return [outputs]


def relative_difference(ours, reference) -> float:
    pairs = zip(flatten(ours), flatten(reference), strict=True)
    return max(float((x - y).norm() / y.norm().clamp_min(1e-30)) for x, y in pairs)


def fresh(inputs: tuple) -> tuple:
    """The inputs with new outer lists and dicts: some originals (TopoModelX's SCA-CMPS) write into them."""
    return tuple(list(item) if isinstance(item, list) else dict(item) if isinstance(item, dict) else item
                 for item in inputs)


def _sum(outputs) -> torch.Tensor:
    return sum(output.sum() for output in flatten(outputs))


@contextmanager
def products_only_write_outputs() -> Iterator[None]:
    """Within the block, ``SparseRows.matmul`` (every CSR product, forward and backward) returns zeros of its shape.

    Writing the output once is the least any product does, so a step timed here
    is a lower bound on the step with any aggregation kernel. Values are wrong
    within the block; only times mean anything.
    """
    product = SparseRows.matmul

    def zeros(rows: SparseRows, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(*x.shape[:-2], rows.shape[0], x.shape[-1])

    SparseRows.matmul = zeros
    try:
        yield
    finally:
        SparseRows.matmul = product


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--models", nargs="*", default=DEFAULT_MODELS, help="names, or 'all'")
    parser.add_argument("--dense-limit", type=int, default=60, help="largest --size for the dense cases")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--floor", action="store_true",
                        help="also time each model with its CSR products only writing their outputs")
    arguments = parser.parse_args()
    device = torch.device(arguments.device)
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    torus = torus_mesh(arguments.size, arguments.size, seed=0)
    every = cases(arguments.channels)
    names = list(every) if arguments.models == ["all"] else arguments.models
    print(f"torus {arguments.size} x {arguments.size}: cells {torus.n_cells}, channels {arguments.channels}, "
          f"{device_description(device)}")
    floor_header = " products only writing outputs ms | speedup bound |" if arguments.floor else ""
    print("| model | topodist ms | TopoModelX ms | speedup | max relative difference |" + floor_header)
    print("|---|---:|---:|---:|---:|" + "---:|---:|" * arguments.floor)
    for name in names:
        case = every[name]
        if case.dense and arguments.size > arguments.dense_limit:
            print(f"| {name} | | | | left out: TopoModelX's original densifies a matrix over cells or loops per cell |")
            continue
        try:
            reference_class, ours_class = case.classes()
        except ImportError as error:  # an original needing a package this machine lacks (torch_scatter, ...)
            print(f"| {name} | | | | left out: {error} |")
            continue
        kwargs = case.kwargs | {key: move_data_to_device(make(torus), device) for key, make in case.setup.items()}
        torch.manual_seed(0)
        reference = reference_class(**kwargs).eval().to(device)
        ours = ours_class(**kwargs).eval().to(device)
        ours.load_state_dict(reference.state_dict(), strict=True)
        inputs = move_data_to_device(case.inputs(torus, arguments.channels), device)
        synchronize = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)

        def step(model) -> None:
            _sum(model(*fresh(inputs))).backward()
            synchronize()

        def floor_step() -> None:
            with products_only_write_outputs():
                step(ours)

        runs = {"ours": lambda: step(ours), "reference": lambda: step(reference)}
        if arguments.floor:
            runs["floor"] = floor_step
        rounds = interleaved_seconds(runs, arguments.repeats, name)
        times = {label: statistics.median(seconds) for label, seconds in rounds.items()}
        floor = ""
        if arguments.floor:
            floor = f" {1e3 * times['floor']:.1f} | {speedup(rounds, 'floor')} |"
        with torch.no_grad():
            difference = relative_difference(ours(*fresh(inputs)), reference(*fresh(inputs)))
        print(f"| {name} | {1e3 * times['ours']:.1f} | {1e3 * times['reference']:.1f} | "
              f"{speedup(rounds, 'ours')} | {difference:.1e} |" + floor)


def speedup(rounds: dict[str, list[float]], label: str) -> str:
    """TopoModelX's median over ``label``'s, and with several rounds the range of the rounds' own ratios."""
    reference, ours = rounds["reference"], rounds[label]
    ratio = f"{statistics.median(reference) / statistics.median(ours):.2f}"
    if len(ours) > 1:
        least, most = ratio_range(reference, ours)
        ratio += f" ({least:.2f}-{most:.2f})"
    return ratio


if __name__ == "__main__":
    main()
