"""Forward + backward of zoo models against TopoModelX 0.0.1: same weights, same inputs, one complex.

The baseline for the performance work: each model and its TopoModelX original
load the same state_dict, run on a triangulated torus (``--size`` x ``--size``
nodes, ``--channels`` wide features on every rank), and the table gives the
median wall time of forward + backward over ``--repeats`` runs after a
warm-up, the speedup, and the largest relative difference of the outputs.

    python -m benchmarks.zoo_vs_topomodelx --size 200 --channels 64 --repeats 3
"""

import argparse
import platform

import torch

from benchmarks.timing import median_seconds
from topodist.data.datasets import torus_mesh
from topodist.data.sparse import to_torch_sparse


def relative_difference(a, b) -> float:
    a, b = (a if isinstance(a, tuple | list) else (a,)), (b if isinstance(b, tuple | list) else (b,))
    return max(float((x - y).norm() / y.norm().clamp_min(1e-30)) for x, y in zip(a, b, strict=True))


def cases(complex_, channels: int) -> dict:
    """name -> (TopoModelX class, topodist class, constructor kwargs, inputs)."""
    from topomodelx.nn.cell.cwn import CWN as ReferenceCWN
    from topomodelx.nn.hypergraph.unigcn import UniGCN as ReferenceUniGCN
    from topomodelx.nn.simplicial.hsn import HSN as ReferenceHSN
    from topomodelx.nn.simplicial.scn2 import SCN2 as ReferenceSCN2

    from topodist.nn.cell.cwn import CWN
    from topodist.nn.hypergraph.unigcn import UniGCN
    from topodist.nn.simplicial.hsn import HSN
    from topodist.nn.simplicial.scn2 import SCN2

    generator = torch.Generator().manual_seed(0)
    x = {k: torch.randn(n, channels, generator=generator) for k, n in enumerate(complex_.n_cells)}
    nodes_in_faces = to_torch_sparse(complex_.incidence_matrix(0, 2, signed=False), "coo", torch.float32)

    def hood(name):
        return complex_.neighborhood(name)

    return {
        "HSN": (ReferenceHSN, HSN, dict(channels=channels, n_layers=2),
                (x[0], hood("incidence_1"), hood("adjacency_0"))),
        "SCN2": (ReferenceSCN2, SCN2, dict(in_channels_0=channels, in_channels_1=channels, in_channels_2=channels),
                 (x[0], x[1], x[2], hood("kipf_adjacency_0"), hood("kipf_adjacency_1"), hood("kipf_coadjacency_2"))),
        "CWN": (ReferenceCWN, CWN, dict(in_channels_0=channels, in_channels_1=channels, in_channels_2=channels,
                                        hid_channels=channels, n_layers=2),
                (x[0], x[1], x[2], hood("adjacency_1"), hood("incidence_2"), hood("incidence_1.T"))),
        "UniGCN": (ReferenceUniGCN, UniGCN, dict(in_channels=channels, hidden_channels=channels, n_layers=2),
                   (x[0], nodes_in_faces)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--models", nargs="*", default=["HSN", "SCN2", "CWN", "UniGCN"])
    arguments = parser.parse_args()
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    complex_ = torus_mesh(arguments.size, arguments.size, seed=0)
    print(f"torus {arguments.size} x {arguments.size}: cells {complex_.n_cells}, channels {arguments.channels}, "
          f"threads {torch.get_num_threads()}, {platform.processor() or platform.machine()}")
    print("| model | topodist ms | TopoModelX ms | speedup | max relative difference |")
    print("|---|---:|---:|---:|---:|")
    for name, (reference_class, ours_class, kwargs, inputs) in cases(complex_, arguments.channels).items():
        if name not in arguments.models:
            continue
        torch.manual_seed(0)
        reference = reference_class(**kwargs)
        ours = ours_class(**kwargs)
        ours.load_state_dict(reference.state_dict(), strict=True)
        times = {}
        for label, model in (("ours", ours), ("reference", reference)):
            times[label] = median_seconds(
                lambda model=model: _sum(model(*inputs)).backward(), arguments.repeats, f"{name} {label}"
            )
        with torch.no_grad():
            difference = relative_difference(ours(*inputs), reference(*inputs))
        print(f"| {name} | {1e3 * times['ours']:.1f} | {1e3 * times['reference']:.1f} | "
              f"{times['reference'] / times['ours']:.2f} | {difference:.1e} |")


def _sum(outputs) -> torch.Tensor:
    return sum(o.sum() for o in outputs) if isinstance(outputs, tuple | list) else outputs.sum()


if __name__ == "__main__":
    main()
