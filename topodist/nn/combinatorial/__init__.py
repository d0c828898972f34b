"""Combinatorial complex models, as ``topomodelx.nn.combinatorial``."""
