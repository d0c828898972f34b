"""The ``topodist`` command line: ``topodist inspect SOURCE``, ``topodist partition SOURCE``."""

import argparse
import json
import sys

from topodist.ops.mimalloc import run_under_mimalloc
from topodist.ops.openmp import spin_briefly

__all__ = ["main"]


def _inspect(arguments: argparse.Namespace) -> int:
    from topodist.data.inspect import describe, format_description
    from topodist.data.sources import load_source

    complex_ = load_source(arguments.source)
    names = arguments.neighborhoods.split(",") if arguments.neighborhoods else None
    description = describe(complex_, names)
    print(json.dumps(description, indent=2) if arguments.json else format_description(description))
    return 0


def _partition(arguments: argparse.Namespace) -> int:
    from topodist.data.sources import load_source
    from topodist.partition import assign_cells, build_shards, default_partition_neighborhoods
    from topodist.partition.shards import load_shard, prepare_shards
    from topodist.partition.statistics import format_statistics, partition_statistics

    complex_ = load_source(arguments.source)
    names = arguments.neighborhoods.split(",") if arguments.neighborhoods else default_partition_neighborhoods(complex_)
    if arguments.out:
        manifest, reused = prepare_shards(
            complex_, arguments.out, arguments.world_size, arguments.method, names, arguments.seed, arguments.rebuild
        )
        shards = [load_shard(arguments.out, part, verify=False) for part in range(arguments.world_size)]
        note = f"{'reused' if reused else 'wrote'} {arguments.world_size} shards in {arguments.out}"
    else:
        parts = assign_cells(complex_, arguments.world_size, arguments.method, names, arguments.seed)
        shards = build_shards(complex_, parts, names, arguments.world_size)
        note = ""
    statistics = partition_statistics(shards, channels=arguments.channels)
    statistics["method"] = arguments.method
    if arguments.json:
        print(json.dumps(statistics, indent=2))
    else:
        print(format_statistics(statistics))
    if arguments.plot:
        from topodist.partition.plot import partition_layout, save_partition_plot

        title = f"{arguments.source}: {arguments.method}, {arguments.world_size} parts"
        save_partition_plot(arguments.plot, complex_, *partition_layout(shards), title=title)
        note = "; ".join(filter(None, [note, f"wrote the partition picture to {arguments.plot}"]))
    if note:
        print(note, file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``topodist`` command."""
    parser = argparse.ArgumentParser(
        prog="topodist",
        description="Distributed topological deep learning. Training: topodist fit|validate|test|predict "
        "--config configs/X.yaml (LightningCLI; topodist fit --help).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser(
        "inspect",
        help="cells per rank, Betti numbers, nnz and memory of each neighborhood",
        description="Describe a complex: a saved complex directory, a mesh file, or a dataset "
        "(karate, grid:SIDE, torus:NxM, icosphere:S, rgg:N:RADIUS[:MAX_RANK], hypergraph:N:M).",
    )
    inspect.add_argument("source")
    inspect.add_argument("--neighborhoods", help="comma-separated names (default: those models use)")
    inspect.add_argument("--json", action="store_true", help="print JSON instead of tables")
    inspect.set_defaults(run=_inspect)

    partition = commands.add_parser(
        "partition",
        help="split a complex across P workers; print halo sizes, traffic and balance; write shards",
        description="Partition every rank of a complex across --world-size parts and plan the halo exchanges.",
    )
    partition.add_argument("source", help="complex directory, mesh file or dataset (as for inspect)")
    partition.add_argument("--world-size", type=int, required=True, help="number of parts P")
    partition.add_argument("--method", choices=("metis", "random", "contiguous"), default="metis")
    partition.add_argument(
        "--neighborhoods", help="comma-separated neighborhoods the model uses (default: incidences, both ways)"
    )
    partition.add_argument("--seed", type=int, default=0)
    partition.add_argument("--channels", type=int, default=64, help="feature channels, for bytes per exchange")
    partition.add_argument("--out", help="write one shard file per part and a manifest to this directory")
    partition.add_argument(
        "--rebuild", action="store_true",
        help="replace a stale or corrupt shard directory, or one an earlier version of the method wrote",
    )
    partition.add_argument("--json", action="store_true", help="print JSON instead of tables")
    partition.add_argument(
        "--plot", metavar="FILE", help="save a PNG: a mesh coloured by part, or owned and halo cells per part"
    )
    partition.set_defaults(run=_partition)
    return parser


TRAINING_COMMANDS = ("fit", "validate", "test", "predict")


def _shards(argv: list[str]) -> int:
    """``topodist shards --world-size P --config FILE [overrides]``: the shards a training run will read."""
    parser = argparse.ArgumentParser(
        prog="topodist shards",
        description="Write the partition shards that `topodist fit` with the same config and overrides will read on "
        "P ranks (data.init_args.partition.shard_dir), so a CPU job can prepare them before training.",
    )
    parser.add_argument("--world-size", type=int, required=True, help="ranks of the training run (nodes x tasks)")
    known, config_arguments = parser.parse_known_args(argv)
    if known.world_size < 1:
        parser.error(f"--world-size {known.world_size}: at least 1")
    from topodist.training.cli import prepare_training_shards

    try:
        shard_dir, reused = prepare_training_shards(config_arguments, known.world_size)
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        print(f"topodist shards: error: {error}", file=sys.stderr)
        return 2
    print(f"{'reused' if reused else 'wrote'} {known.world_size} shards in {shard_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; errors in the input end with a one-line message and exit code 2.

    ``fit``, ``validate``, ``test`` and ``predict`` go to LightningCLI
    (:mod:`topodist.training.cli`), ``shards`` prepares a training run's shards
    from its config; ``inspect`` and ``partition`` are handled here. torch
    loads after the OpenMP spin count is set (:mod:`topodist.ops.openmp`). Run from
    the command line (``argv`` None), the process first starts again under
    mimalloc (:mod:`topodist.ops.mimalloc`) unless ``TOPODIST_HOST_MEMORY`` or
    the environment chose another allocator.
    """
    from_command_line = argv is None
    if from_command_line:
        run_under_mimalloc()  # an unknown TOPODIST_HOST_MEMORY has already stopped `import topodist`, naming it
    spin_briefly()
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "shards":
        return _shards(argv[1:])
    if argv and argv[0] in TRAINING_COMMANDS:
        from topodist.training.cli import run_training_cli

        run_training_cli(None if from_command_line else argv)
        return 0
    arguments = build_parser().parse_args(argv)
    try:
        return arguments.run(arguments)
    except (ValueError, FileNotFoundError, FileExistsError, TypeError) as error:
        print(f"topodist {arguments.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
