"""The ``topodist`` command line: ``topodist inspect SOURCE``."""

import argparse
import json
import sys

__all__ = ["main"]


def _inspect(arguments: argparse.Namespace) -> int:
    from topodist.data.inspect import describe, format_description
    from topodist.data.sources import load_source

    complex_ = load_source(arguments.source)
    names = arguments.neighborhoods.split(",") if arguments.neighborhoods else None
    description = describe(complex_, names)
    print(json.dumps(description, indent=2) if arguments.json else format_description(description))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``topodist`` command."""
    parser = argparse.ArgumentParser(prog="topodist", description="Distributed topological deep learning.")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; errors in the input end with a one-line message and exit code 2."""
    arguments = build_parser().parse_args(argv)
    try:
        return arguments.run(arguments)
    except (ValueError, FileNotFoundError, FileExistsError, TypeError) as error:
        print(f"topodist {arguments.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
