"""Message-passing building blocks, mirroring ``topomodelx.base``."""

from topodist.base.aggregation import Aggregation
from topodist.base.conv import Conv
from topodist.base.message_passing import MessagePassing

__all__ = ["Aggregation", "Conv", "MessagePassing"]
