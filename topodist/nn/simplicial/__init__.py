"""Models on simplicial complexes (``topomodelx.nn.simplicial`` counterparts)."""
