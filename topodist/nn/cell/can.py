"""CAN, as ``topomodelx.nn.cell.can.CAN``."""

import torch

from topodist.nn.cell.can_layer import CANLayer, MultiHeadLiftLayer, PoolLayer
from topodist.ops.dropout import CellDropout

__all__ = ["CAN"]


class CAN(torch.nn.Module):
    """Cell attention network: a lift of node features to edges, cell attention layers and optional top-k pooling.

    The layers are :class:`~topodist.nn.cell.can_layer.CANLayer` s.

    Dropout (on the lift, the attention weights and after every layer) keys
    on global cells, and the pooling's top-k runs over every part, so a
    partitioned run equals one device in training too.

    Parameters
    ----------
    in_channels_0, in_channels_1, out_channels : int
    dropout : float, default=0.5
        On the attention weights of every layer but the first.
    heads : int, default=2
    concat : bool, default=True
    skip_connection : bool, default=True
    att_activation : torch.nn.Module, optional
        ``LeakyReLU(0.2)`` when omitted.
    n_layers : int, default=2
    att_lift : bool, default=True
        Prepend ``in_channels_0`` lifted signals to the edge features.
    pooling : bool, default=False
        A :class:`~topodist.nn.cell.can_layer.PoolLayer` after every layer but the first.
    k_pool : float, default=0.5
    **kwargs
        Passed to the layers (``aggr_func``, ``update_func`` default to "sum" and "relu").
    """

    def __init__(
        self,
        in_channels_0: int,
        in_channels_1: int,
        out_channels: int,
        dropout: float = 0.5,
        heads: int = 2,
        concat: bool = True,
        skip_connection: bool = True,
        att_activation: torch.nn.Module | None = None,
        n_layers: int = 2,
        att_lift: bool = True,
        pooling: bool = False,
        k_pool: float = 0.5,
        **kwargs,
    ) -> None:
        super().__init__()
        if att_activation is None:
            att_activation = torch.nn.LeakyReLU(0.2)
        if att_lift:
            self.lift_layer = MultiHeadLiftLayer(
                in_channels_0=in_channels_0, heads=in_channels_0, signal_lift_dropout=0.5
            )
            in_channels_1 = in_channels_1 + in_channels_0
        # TopoModelX fixes aggr_func="sum" and update_func="relu" (and fails when kwargs repeat them);
        # here they are defaults that kwargs (e.g. a config's resolved CANLayer arguments) may restate
        options = dict(
            heads=heads,
            concat=concat,
            skip_connection=skip_connection,
            att_activation=att_activation,
            **{"aggr_func": "sum", "update_func": "relu", **kwargs},
        )
        layers = [CANLayer(in_channels=in_channels_1, out_channels=out_channels, **options)]
        for _ in range(n_layers - 1):
            layers.append(CANLayer(in_channels=out_channels, out_channels=out_channels, dropout=dropout, **options))
            if pooling:
                layers.append(
                    PoolLayer(
                        k_pool=k_pool,
                        in_channels_0=out_channels,
                        signal_pool_activation=torch.nn.Sigmoid(),
                        readout=True,
                        **kwargs,
                    )
                )
        self.layers = torch.nn.ModuleList(layers)
        self.layer_dropout = CellDropout(0.5)

    def forward(self, x_0, x_1, adjacency_0, down_laplacian_1, up_laplacian_1) -> torch.Tensor:
        """Forward pass.

        Parameters
        ----------
        x_0 : torch.Tensor, shape = (n_nodes, in_channels_0)
        x_1 : torch.Tensor, shape = (n_edges, in_channels_1)
        adjacency_0 : torch.sparse or PartitionedNeighborhood
            What the lift reads (:class:`~topodist.nn.cell.can_layer.LiftLayer`):
            TopoModelX's upper-triangular node adjacency, or the signed
            ``incidence_1.T`` (the partitionable form).
        down_laplacian_1, up_laplacian_1 : torch.sparse or PartitionedNeighborhood, shape = (n_edges, n_edges)

        Returns
        -------
        torch.Tensor, shape = (n_edges or n_kept_edges, out_channels)
            With pooling, the kept edges, best first; each :class:`~topodist.nn.cell.can_layer.PoolLayer`'s
            ``kept_cells`` says which.
        """
        if hasattr(self, "lift_layer"):
            x_1 = self.lift_layer(x_0, adjacency_0, x_1)
        for layer in self.layers:
            if isinstance(layer, PoolLayer):
                x_1, down_laplacian_1, up_laplacian_1 = layer(x_1, down_laplacian_1, up_laplacian_1)
            else:
                x_1 = self.layer_dropout(layer(x_1, down_laplacian_1, up_laplacian_1), over=down_laplacian_1)
        return x_1
