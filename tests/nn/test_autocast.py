"""Every model of the zoo trains under bfloat16 autocast (Lightning's ``precision="bf16-mixed"`` on CPU).

Forward and backward run, outputs are bfloat16 or float32 (what autocast's
last operation returns) and stay within
bfloat16 rounding of the float32 model (inputs, weights and products rounded
to 8 mantissa bits, through two layers and saturating activations), and every
gradient is finite. The float32 sums behind this are checked exactly in
``tests/ops/test_precision.py``.
"""

import pytest
import torch

from benchmarks.zoo_vs_topomodelx import flatten
from tests.nn.zoo import CASES, zoo_model
from tests.reference import relative_error
from topodist.data.datasets import torus_mesh


@pytest.fixture(scope="module")
def torus_8x8():
    return torus_mesh(8, 8, seed=0)


@pytest.mark.parametrize("name", list(CASES))
def test_model_runs_under_bfloat16_autocast(torus_8x8, name):
    model, inputs = zoo_model(name, torus_8x8)
    expected = flatten(model(*inputs))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        outputs = flatten(model(*inputs))
    assert len(outputs) == len(expected)
    for output, reference in zip(outputs, expected, strict=True):
        assert output.dtype in (torch.bfloat16, torch.float32)
        assert relative_error(output.float(), reference) <= 0.15
    sum(output.float().square().sum() for output in outputs).backward()
    gradients = [p.grad for p in model.parameters() if p.grad is not None]
    assert gradients and all(torch.isfinite(gradient).all() for gradient in gradients)
