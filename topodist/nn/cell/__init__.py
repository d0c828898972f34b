"""Cell complex models, as ``topomodelx.nn.cell``."""
