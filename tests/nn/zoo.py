"""Every zoo model built on a small torus, with its inputs (``benchmarks/zoo_cases.py`` describes them)."""

import torch

from benchmarks.zoo_cases import cases

CHANNELS = 16
CASES = cases(CHANNELS)


def zoo_model(name: str, torus) -> tuple[torch.nn.Module, tuple]:
    """topodist's model ``name`` (eval mode, seeded weights) and its inputs on ``torus``, ``CHANNELS`` wide."""
    case = CASES[name]
    kwargs = dict(case.kwargs) | {key: make(torus) for key, make in case.setup.items()}
    torch.manual_seed(0)
    return case.ours_class()(**kwargs).eval(), case.inputs(torus, CHANNELS)
