"""Topological neural network models, TopoModelX-compatible, by domain."""
