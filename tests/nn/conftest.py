"""Fixtures shared by the model tests."""

import pytest

from topodist.data.datasets import torus_mesh


@pytest.fixture(scope="module")
def torus():
    """A 6 x 6 triangulated torus: 36 nodes, 108 edges, 72 triangles, noisy node features and labels."""
    return torus_mesh(6, 6, seed=0)
