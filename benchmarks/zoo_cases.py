"""The zoo models as the TopoModelX comparison runs them: constructor arguments and inputs on one torus.

Each case names TopoModelX 0.0.1's class and topodist's, the keyword arguments
both take, and the inputs built from a triangulated torus with ``channels``
features on every rank. Hypergraph models read the torus's triangles as
hyperedges (nodes x faces). ``dense`` marks the cases whose TopoModelX
original forms a dense matrix over cells (an identity, a densified incidence
or Laplacian) or loops over cells in Python, which only small tori allow.
"""

import importlib
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch

from topodist.data.sparse import to_torch_sparse


@dataclass
class Case:
    """One model: ``reference`` and ``ours`` as ``"module:Class"``, ``kwargs``, and ``inputs(torus, channels)``."""

    reference: str
    ours: str
    kwargs: dict
    inputs: object
    dense: bool = False
    setup: dict = field(default_factory=dict)

    def classes(self):
        return tuple(_load(path) for path in (self.reference, self.ours))

    def ours_class(self):
        """topodist's class alone (TopoModelX need not be installed)."""
        return _load(self.ours)


def _load(path: str):
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def features(torus, channels: int, ranks=(0, 1, 2)) -> dict:
    generator = torch.Generator().manual_seed(0)
    return {rank: torch.randn(torus.n_cells[rank], channels, generator=generator) for rank in ranks}


def nodes_in_faces(torus) -> torch.Tensor:
    return to_torch_sparse(torus.incidence_matrix(0, 2, signed=False), "coo", torch.float32)


def upper_adjacency(torus) -> torch.Tensor:
    """CAN's lift input in TopoModelX: one stored entry per edge, the upper triangle of the node adjacency."""
    triu = sp.triu(torus.matrix("adjacency_0")).tocoo()
    return torch.sparse_coo_tensor(np.vstack([triu.row, triu.col]), torch.ones(triu.nnz), triu.shape,
                                   check_invariants=True).coalesce()


def hood(torus, *names):
    return tuple(torus.neighborhood(name) for name in names)


def hypergraph(module: str, name: str, kwargs: dict, with_edges: bool = False, dense: bool = False) -> Case:
    def inputs(torus, channels):
        x = features(torus, channels, (0,))[0]
        if with_edges:
            edges = torch.randn(torus.n_cells[2], channels, generator=torch.Generator().manual_seed(1))
            return (x, edges, nodes_in_faces(torus))
        return (x, nodes_in_faces(torus))

    return Case(f"topomodelx.nn.hypergraph.{module}:{name}", f"topodist.nn.hypergraph.{module}:{name}", kwargs,
                inputs, dense)


def _simplicial(module, name, kwargs, inputs, dense=False):
    return Case(f"topomodelx.nn.simplicial.{module}:{name}", f"topodist.nn.simplicial.{module}:{name}", kwargs,
                inputs, dense)


def _cell(module, name, kwargs, inputs):
    return Case(f"topomodelx.nn.cell.{module}:{name}", f"topodist.nn.cell.{module}:{name}", kwargs, inputs)


def cases(channels: int) -> dict[str, Case]:
    """Every model of the comparison, by name."""
    c = channels
    widths = dict(in_channels_0=c, in_channels_1=c, in_channels_2=c)
    x = features

    def hnhn(torus, channels):
        return (x(torus, channels, (0,))[0], nodes_in_faces(torus))

    return {
        "HSN": _simplicial("hsn", "HSN", dict(channels=c, n_layers=2),
                           lambda t, c: (x(t, c)[0], *hood(t, "incidence_1", "adjacency_0"))),
        "SCN2": _simplicial("scn2", "SCN2", widths, lambda t, c: (
            *x(t, c).values(), *hood(t, "kipf_adjacency_0", "kipf_adjacency_1", "kipf_coadjacency_2"))),
        "SCCN": _simplicial("sccn", "SCCN", dict(channels=c, max_rank=2, n_layers=2), lambda t, c: (
            {f"rank_{k}": v for k, v in x(t, c).items()},
            dict(zip(("rank_1", "rank_2"), hood(t, "incidence_1", "incidence_2"))),
            dict(zip(("rank_0", "rank_1", "rank_2"), hood(t, "adjacency_0", "adjacency_1", "coadjacency_2"))))),
        "SCCNN": _simplicial("sccnn", "SCCNN", dict(in_channels_all=(c, c, c), hidden_channels_all=(c, c, c),
                                                    conv_order=2, sc_order=2, n_layers=2), lambda t, c: (
            tuple(x(t, c).values()),
            list(hood(t, "hodge_laplacian_0", "down_laplacian_1", "up_laplacian_1", "hodge_laplacian_2")),
            list(hood(t, "incidence_1", "incidence_2"))), dense=True),
        "SCConv": _simplicial("scconv", "SCConv", dict(node_channels=c, edge_channels=c, face_channels=c, n_layers=2),
                              lambda t, c: (*x(t, c).values(), *hood(
                                  t, "incidence_1.T", "incidence_1_unsigned", "incidence_2.T", "incidence_2_unsigned",
                                  "kipf_adjacency_0", "kipf_adjacency_1", "kipf_coadjacency_1",
                                  "kipf_coadjacency_2"))),
        "SCNN": _simplicial("scnn", "SCNN", dict(in_channels=c, hidden_channels=c, conv_order_down=2,
                                                 conv_order_up=2, n_layers=2),
                            lambda t, c: (x(t, c, (1,))[1], *hood(t, "down_laplacian_1", "up_laplacian_1")),
                            dense=True),
        "SCoNe": _simplicial("scone", "SCoNe", dict(in_channels=c, hidden_channels=c, n_layers=2),
                             lambda t, c: (x(t, c, (1,))[1], *hood(t, "incidence_1", "incidence_2"))),
        "SAN": _simplicial("san", "SAN", dict(in_channels=c, hidden_channels=c, n_layers=2),
                           lambda t, c: (x(t, c, (1,))[1], *hood(t, "up_laplacian_1", "down_laplacian_1")),
                           dense=True),
        "SCACMPS": _simplicial("sca_cmps", "SCACMPS", dict(in_channels_all=[c, c, c], complex_dim=3, n_layers=2),
                               lambda t, c: ([v * 0.1 for v in x(t, c).values()],
                                             list(hood(t, "down_laplacian_1", "down_laplacian_2")),
                                             list(hood(t, "incidence_1.T", "incidence_2.T")))),
        "CWN": _cell("cwn", "CWN", dict(**widths, hid_channels=c, n_layers=2),
                     lambda t, c: (*x(t, c).values(), *hood(t, "adjacency_1", "incidence_2", "incidence_1.T"))),
        "CCXN": _cell("ccxn", "CCXN", dict(**widths, n_layers=2),
                      lambda t, c: (x(t, c)[0], x(t, c)[1], *hood(t, "adjacency_0", "incidence_2.T"))),
        "CAN": _cell("can", "CAN", dict(in_channels_0=c, in_channels_1=c, out_channels=c, n_layers=2),
                     lambda t, c: (x(t, c)[0], x(t, c)[1], upper_adjacency(t),
                                   *hood(t, "down_laplacian_1", "up_laplacian_1"))),
        "HMC": Case("topomodelx.nn.combinatorial.hmc:HMC", "topodist.nn.combinatorial.hmc:HMC",
                    dict(channels_per_layer=[[[c, c, c], [c, c, c], [c, c, c]]]),
                    lambda t, c: (*x(t, c).values(), *hood(
                        t, "adjacency_0", "adjacency_1", "coadjacency_2", "incidence_1", "incidence_2")), dense=True),
        "UniGCN": hypergraph("unigcn", "UniGCN", dict(in_channels=c, hidden_channels=c, n_layers=2)),
        "UniGCNII": hypergraph("unigcnii", "UniGCNII", dict(in_channels=c, hidden_channels=c, n_layers=2), dense=True),
        "UniGIN": hypergraph("unigin", "UniGIN", dict(in_channels=c, hidden_channels=c, n_layers=2), dense=True),
        "UniSAGE": hypergraph("unisage", "UniSAGE", dict(in_channels=c, hidden_channels=c, n_layers=2)),
        "HyperGAT": hypergraph("hypergat", "HyperGAT", dict(in_channels=c, hidden_channels=c, n_layers=2)),
        "HyperSAGE": hypergraph("hypersage", "HyperSAGE", dict(in_channels=c, hidden_channels=c, n_layers=2),
                                dense=True),
        "AllSet": hypergraph("allset", "AllSet", dict(in_channels=c, hidden_channels=c, n_layers=2,
                                                     mlp_activation=torch.nn.ReLU)),
        "AllSetTransformer": hypergraph("allset_transformer", "AllSetTransformer",
                                        dict(in_channels=c, hidden_channels=c, n_layers=2)),
        "HMPNN": hypergraph("hmpnn", "HMPNN", dict(in_channels=c, hidden_channels=c), with_edges=True),
        "HNHN": Case("topomodelx.nn.hypergraph.hnhn:HNHN", "topodist.nn.hypergraph.hnhn:HNHN",
                     dict(in_channels=c, hidden_channels=c, n_layers=2), hnhn, dense=True,
                     setup={"incidence_1": nodes_in_faces}),
    }
