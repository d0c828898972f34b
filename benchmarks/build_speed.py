"""Time building a triangle mesh's B1, B2 and all Laplacians: topodist against TopoNetX.

For each torus size (``--sizes`` gives n_major; n_minor = n_major / 2, so
``n_major^2`` triangles), build the complex from its face array, then B1, B2,
and the up, down and Hodge Laplacians of every rank. Prints one table row per
size and implementation.

    python -m benchmarks.build_speed --sizes 1000 --repeats 3
    python -m benchmarks.build_speed --sizes 100 200 --toponetx

Peak memory: run one implementation per process under ``/usr/bin/time -v``
(``--only-toponetx`` for TopoNetX) and read "Maximum resident set size".
"""

import argparse
import statistics
import time

import numpy as np

from topodist.data import triangle_mesh
from topodist.data.datasets import torus_mesh

NEIGHBORHOODS = [
    "incidence_1", "incidence_2", "up_laplacian_0", "hodge_laplacian_0", "down_laplacian_1",
    "up_laplacian_1", "hodge_laplacian_1", "down_laplacian_2", "hodge_laplacian_2",
]


def build_topodist(faces: np.ndarray) -> int:
    complex_ = triangle_mesh(faces)
    return sum(complex_.matrix(name).nnz for name in NEIGHBORHOODS)


def build_toponetx(faces: np.ndarray) -> int:
    import toponetx as tnx

    domain = tnx.SimplicialComplex(faces.tolist())
    matrices = [domain.incidence_matrix(1), domain.incidence_matrix(2), domain.up_laplacian_matrix(0),
                domain.hodge_laplacian_matrix(0), domain.down_laplacian_matrix(1), domain.up_laplacian_matrix(1),
                domain.hodge_laplacian_matrix(1), domain.down_laplacian_matrix(2), domain.hodge_laplacian_matrix(2)]
    return sum(m.nnz for m in matrices)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--toponetx", action="store_true", help="also time TopoNetX 0.2.0")
    parser.add_argument("--only-toponetx", action="store_true", help="time TopoNetX alone (to measure its memory)")
    args = parser.parse_args()

    print("| triangles | implementation | seconds (median) | total nnz |")
    print("|---:|---|---:|---:|")
    for size in args.sizes:
        faces = torus_mesh(size, size // 2).cells[2]
        implementations = {} if args.only_toponetx else {"topodist": build_topodist}
        if args.toponetx or args.only_toponetx:
            implementations["toponetx 0.2.0"] = build_toponetx
        for name, build in implementations.items():
            times, nnz = [], 0
            for _ in range(args.repeats):
                start = time.perf_counter()
                nnz = build(faces)
                times.append(time.perf_counter() - start)
            print(f"| {len(faces):,} | {name} | {statistics.median(times):.3f} | {nnz:,} |", flush=True)


if __name__ == "__main__":
    main()
