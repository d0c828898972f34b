"""Hypergraph models, as ``topomodelx.nn.hypergraph``."""
