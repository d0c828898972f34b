"""CWN layer, as ``topomodelx.nn.cell.cwn_layer.CWNLayer``."""

import torch

from topodist.base.conv import Conv
from topodist.ops.activations import elu
from topodist.ops.dense import Linear

__all__ = ["CWNLayer"]


class _CWNDefaultFirstConv(torch.nn.Module):
    """Messages to an edge from its upper neighbours and from its faces."""

    def __init__(self, in_channels_1: int, in_channels_2: int, out_channels: int) -> None:
        super().__init__()
        self.conv_1_to_1 = Conv(in_channels_1, out_channels, aggr_norm=False, update_func=None)
        self.conv_2_to_1 = Conv(in_channels_2, out_channels, aggr_norm=False, update_func=None)

    def forward(self, x_1: torch.Tensor, x_2: torch.Tensor, adjacency_0, incidence_2) -> torch.Tensor:
        x_up = elu(self.conv_1_to_1(x_1, adjacency_0))
        x_coboundary = elu(self.conv_2_to_1(x_2, incidence_2))
        return x_up + x_coboundary


class _CWNDefaultSecondConv(torch.nn.Module):
    """Messages to an edge from its nodes."""

    def __init__(self, in_channels_0: int, in_channels_1: int, out_channels: int) -> None:
        super().__init__()
        self.conv_0_to_1 = Conv(in_channels_0, out_channels, aggr_norm=False, update_func=None)

    def forward(self, x_0: torch.Tensor, x_1: torch.Tensor, incidence_1_t) -> torch.Tensor:
        return elu(self.conv_0_to_1(x_0, incidence_1_t))


class _CWNDefaultAggregate(torch.nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x + y


class _CWNDefaultUpdate(torch.nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.transform = Linear(in_channels, out_channels)

    def forward(self, x: torch.Tensor, x_prev: torch.Tensor | None = None) -> torch.Tensor:
        return elu(self.transform(x))


class CWNLayer(torch.nn.Module):
    r"""CW network layer: an edge hears its upper neighbours, its faces and its nodes.

    .. math::
        x_1' = \mathrm{ELU}\Big(W \big[\mathrm{ELU}(A\, x_1 W_{11}) + \mathrm{ELU}(B_2\, x_2 W_{21})
        + \mathrm{ELU}(B_1^T x_0 W_{01})\big] + b\Big)

    Every part (convolutions, aggregation, update) can be replaced, as in TopoModelX.

    Parameters
    ----------
    in_channels_0, in_channels_1, in_channels_2, out_channels : int
    conv_1_to_1, conv_0_to_1, aggregate_fn, update_fn : torch.nn.Module, optional

    References
    ----------
    Bodnar, Frasca, Otter, Wang, Lio, Montufar and Bronstein. Weisfeiler and
    Lehman go cellular: CW networks. NeurIPS 2021.
    """

    def __init__(
        self,
        in_channels_0: int,
        in_channels_1: int,
        in_channels_2: int,
        out_channels: int,
        conv_1_to_1=None,
        conv_0_to_1=None,
        aggregate_fn=None,
        update_fn=None,
        **kwargs,
    ) -> None:
        super().__init__()
        self.conv_1_to_1 = (
            conv_1_to_1 if conv_1_to_1 is not None else _CWNDefaultFirstConv(in_channels_1, in_channels_2, out_channels)
        )
        self.conv_0_to_1 = (
            conv_0_to_1
            if conv_0_to_1 is not None
            else _CWNDefaultSecondConv(in_channels_0, in_channels_1, out_channels)
        )
        self.aggregate_fn = aggregate_fn if aggregate_fn is not None else _CWNDefaultAggregate()
        self.update_fn = update_fn if update_fn is not None else _CWNDefaultUpdate(out_channels, out_channels)

    def forward(self, x_0, x_1, x_2, adjacency_0, incidence_2, incidence_1_t) -> torch.Tensor:
        """Forward pass.

        Parameters
        ----------
        x_0 : torch.Tensor, shape = (n_nodes, in_channels_0)
        x_1 : torch.Tensor, shape = (n_edges, in_channels_1)
        x_2 : torch.Tensor, shape = (n_faces, in_channels_2)
        adjacency_0 : torch.sparse, shape = (n_edges, n_edges)
            The upper adjacency of the edges (TopoModelX's name; ``adjacency_1`` in topodist).
        incidence_2 : torch.sparse, shape = (n_edges, n_faces)
        incidence_1_t : torch.sparse, shape = (n_edges, n_nodes)

        Returns
        -------
        torch.Tensor, shape = (n_edges, out_channels)
        """
        x_convolved_1_to_1 = self.conv_1_to_1(x_1, x_2, adjacency_0, incidence_2)
        x_convolved_0_to_1 = self.conv_0_to_1(x_0, x_1, incidence_1_t)
        x_aggregated = self.aggregate_fn(x_convolved_1_to_1, x_convolved_0_to_1)
        return self.update_fn(x_aggregated, x_1)
