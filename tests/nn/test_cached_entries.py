"""No zoo model rebuilds a neighborhood's entries once it has run: they are formed once per tensor.

Building entries (coalesce, CSR form, transpose) costs more than the product
that uses them; a model that transposes, adds or multiplies its neighborhoods
in every forward (as TopoModelX writes SCConv, SCoNe, CAN, HSN and the
hypergraph layers) gets the same derived tensor each time
(``topodist.ops.neighborhood.derived_neighborhood``).
"""

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from benchmarks.zoo_vs_topomodelx import flatten
from tests.nn.zoo import CASES, zoo_model
from topodist.ops import neighborhood as neighborhood_module


@pytest.mark.parametrize("name", list(CASES))
def test_a_second_forward_and_backward_builds_no_entries(torus, name, monkeypatch):
    model, inputs = zoo_model(name, torus)

    def step():
        sum(output.sum() for output in flatten(model(*inputs))).backward()

    step()
    built = []
    build = neighborhood_module._build_index
    monkeypatch.setattr(neighborhood_module, "_build_index", lambda n: built.append(tuple(n.shape)) or build(n))
    step()
    assert built == []


class SparseMatricesFormed(TorchDispatchMode):
    """Records every op whose output is a 2-D sparse tensor (a transpose, sum or product of neighborhoods)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        output = func(*args, **(kwargs or {}))
        outputs = output if isinstance(output, tuple | list) else (output,)
        self.ops += [str(func) for o in outputs
                     if isinstance(o, torch.Tensor) and o.layout != torch.strided and o.dim() == 2]
        return output


@pytest.mark.parametrize("name", list(CASES))
def test_a_second_forward_forms_no_sparse_matrix(torus, name):
    model, inputs = zoo_model(name, torus)
    model(*inputs)
    with SparseMatricesFormed() as formed:
        model(*inputs)
    assert formed.ops == []
