"""SCA with coadjacency message passing scheme, as ``topomodelx.nn.simplicial.sca_cmps.SCACMPS``."""

import torch

from topodist.nn.simplicial.sca_cmps_layer import SCACMPSLayer

__all__ = ["SCACMPS"]


class SCACMPS(torch.nn.Module):
    """Stack of :class:`SCACMPSLayer`.

    Parameters
    ----------
    in_channels_all : list of int
        Width of the features of each rank (kept by every layer).
    complex_dim : int
    n_layers : int, default=2
    att : bool, default=False
    """

    def __init__(self, in_channels_all: list[int], complex_dim: int, n_layers: int = 2, att: bool = False) -> None:
        super().__init__()
        self.n_layers = n_layers
        self.in_channels_all = in_channels_all
        self.layers = torch.nn.ModuleList(SCACMPSLayer(in_channels_all, complex_dim, att) for _ in range(n_layers))

    def forward(self, x: list, laplacian_down_list: list, incidence_t_list: list) -> list:
        """Forward pass; arguments and result as in :meth:`SCACMPSLayer.forward`."""
        for layer in self.layers:
            x = layer(x, laplacian_down_list, incidence_t_list)
        return x
