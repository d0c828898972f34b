"""Fixtures shared by the test suite.

``make test`` sets ``TOPODIST_REQUIRE_TORCH_SCATTER=1`` and
``TOPODIST_REQUIRE_TOPOMODELX=1``: a missing optional package then fails the
tests that need it instead of skipping them, so CI cannot pass on a partial
install.
"""

import importlib
import os

import pytest

from topodist.ops import scatter as scatter_module


def _require(package: str, env_var: str):
    """Import ``package``; skip when absent unless ``env_var`` demands it."""
    if os.environ.get(env_var) == "1":
        return importlib.import_module(package)
    return pytest.importorskip(package)


@pytest.fixture(params=["native", "torch_scatter"])
def scatter_backend(request, monkeypatch) -> str:
    """Select each scatter backend in turn through ``TOPODIST_SCATTER``."""
    if request.param == "torch_scatter":
        _require("torch_scatter", "TOPODIST_REQUIRE_TORCH_SCATTER")
    monkeypatch.setenv(scatter_module.BACKEND_ENV_VAR, request.param)
    return request.param


@pytest.fixture
def topomodelx():
    """TopoModelX 0.0.1, the reference implementation (installed with --no-deps)."""
    return _require("topomodelx", "TOPODIST_REQUIRE_TOPOMODELX")


@pytest.fixture
def torch_scatter():
    """The torch_scatter package."""
    return _require("torch_scatter", "TOPODIST_REQUIRE_TORCH_SCATTER")
