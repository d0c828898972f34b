"""Tensor operations shared by every layer.

- :mod:`topodist.ops.scatter`: scatter reductions, the one aggregation kernel;
- :mod:`topodist.ops.neighborhood`: reading sparse neighborhoods and applying them.
"""
