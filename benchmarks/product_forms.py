"""Laplacians applied assembled or as a chain of incidence products: bytes, time, and the cheaper form.

    python -m benchmarks.product_forms --channels 64

For each Laplacian ``L = B^T B`` (down) or ``L = B B^T`` (up) of two complexes,
a 200 x 200 triangulated torus (every vertex of degree 6) and the clique
complex of a random geometric graph (degrees of tens, where the edge
down-Laplacian grows as the sum of squared vertex degrees), the forward
product ``L @ x`` as:

- ``assembled``: one CSR product with ``L`` (its nnz stored);
- ``chain``: ``B^T (B x)`` or ``B (B^T x)``, two CSR products through the
  incidence (twice its nnz stored, an intermediate on the middle cells).

Bytes are the least each form must move: the matrices' CSR arrays, ``x``
read, ``y`` written, and for the chain the intermediate written and read
(:meth:`topodist.data.operators.FactoredOperator.bytes_per_product`, with the
Laplacian's actual stored entries).
Both forms run through :class:`topodist.ops.spmm.SparseRows`; the table gives
each form's median time (the two timed in turn, round by round), the
predicted (fewer bytes) and measured (faster) choice. Partitioned, the chain
needs two one-hop halo exchanges where the assembled product needs one over
the Laplacian's wider halo.
"""

import argparse
import statistics

import torch

from benchmarks.timing import interleaved_seconds, progress
from topodist.data.datasets import random_geometric_complex, torus_mesh
from topodist.ops.neighborhood import neighborhood_index

# Laplacian name -> (incidence name, whether L = B^T B)
LAPLACIANS = {
    "down_laplacian_1": ("incidence_1", True),
    "up_laplacian_0": ("incidence_1", False),
    "up_laplacian_1": ("incidence_2", False),
    "down_laplacian_2": ("incidence_2", True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--torus", type=int, default=200, help="side of the torus")
    parser.add_argument("--rgg-nodes", type=int, default=20000)
    parser.add_argument("--rgg-radius", type=float, default=0.02)
    arguments = parser.parse_args()
    complexes = {
        f"torus {arguments.torus}x{arguments.torus}": torus_mesh(arguments.torus, arguments.torus, seed=0),
        f"rgg {arguments.rgg_nodes} r={arguments.rgg_radius}": random_geometric_complex(
            arguments.rgg_nodes, arguments.rgg_radius, seed=0),
    }
    channels = arguments.channels
    print(f"{channels} float32 channels, {torch.get_num_threads()} threads")
    print("| complex | Laplacian | cells | nnz L | nnz B | assembled MB | chain MB | assembled ms | chain ms | "
          "fewer bytes | faster |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for label, complex_ in progress(complexes.items(), "complexes"):
        for name, (incidence, down) in LAPLACIANS.items():
            laplacian = neighborhood_index(complex_.neighborhood(name)).rows
            first = neighborhood_index(complex_.neighborhood(incidence)).rows  # B
            outer, inner = (first.T, first) if down else (first, first.T)  # L = outer @ inner
            n = laplacian.shape[0]
            x = torch.randn(n, channels)
            assembled_bytes, chain_bytes = complex_.factored(name).bytes_per_product(channels, laplacian.nnz)
            rounds = interleaved_seconds({"assembled": lambda: laplacian.matmul(x),
                                          "chain": lambda: outer.matmul(inner.matmul(x))}, arguments.repeats, name)
            assembled_s, chain_s = (statistics.median(rounds[form]) for form in ("assembled", "chain"))
            predicted = "assembled" if assembled_bytes <= chain_bytes else "chain"
            measured = "assembled" if assembled_s <= chain_s else "chain"
            print(f"| {label} | {name} | {n:,} | {laplacian.nnz:,} | {first.nnz:,} | {assembled_bytes / 1e6:.1f} | "
                  f"{chain_bytes / 1e6:.1f} | {assembled_s * 1e3:.2f} | {chain_s * 1e3:.2f} | {predicted} | "
                  f"{measured} |")


if __name__ == "__main__":
    main()
