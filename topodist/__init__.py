"""topodist: distributed training of topological neural networks."""

from topodist.base import Aggregation, Conv, MessagePassing

__version__ = "0.1.0"

__all__ = ["Aggregation", "Conv", "MessagePassing", "__version__"]
