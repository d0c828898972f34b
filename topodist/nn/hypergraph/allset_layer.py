"""AllSet layer, as ``topomodelx.nn.hypergraph.allset_layer``."""

import torch

from topodist.base.conv import Conv
from topodist.ops.dense import Linear
from topodist.ops.dropout import CellDropout
from topodist.ops.neighborhood import neighborhood_transpose

__all__ = ["MLP", "AllSetBlock", "AllSetLayer", "through_hyperedges"]


class MLP(torch.nn.Sequential):
    """Linear maps with a norm, an activation and dropout between them, as TopoModelX's ``MLP``.

    The same modules at the same indices as TopoModelX 0.0.1 (its state_dicts
    load), with :class:`~topodist.ops.dropout.CellDropout` instead of
    ``torch.nn.Dropout``: call it as ``mlp(x, over=neighborhood)`` with a
    neighborhood whose target cells are ``x``'s rows.

    Parameters
    ----------
    in_channels : int
    hidden_channels : list of int
        Width of every linear map; the last is the output width.
    norm_layer : callable, optional
        Called with a width, e.g. ``torch.nn.LayerNorm``.
    activation_layer : callable, optional
        ``None`` (the default) means ``torch.nn.ReLU``: TopoModelX's AllSet
        ``MLP`` defaults to ``None`` (and fails calling it), its
        AllSetTransformer ``MLP`` to ReLU.
    dropout : float, default=0.0
    inplace : bool, optional
        Passed to the activation.
    bias : bool, default=False
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: list[int],
        norm_layer=None,
        activation_layer=None,
        dropout: float = 0.0,
        inplace: bool | None = None,
        bias: bool = False,
    ) -> None:
        activation_layer = torch.nn.ReLU if activation_layer is None else activation_layer
        params = {} if inplace is None else {"inplace": inplace}
        layers: list[torch.nn.Module] = []
        in_dim = in_channels
        for hidden_dim in hidden_channels[:-1]:
            layers.append(Linear(in_dim, hidden_dim, bias=bias))
            if norm_layer is not None:
                layers.append(norm_layer(hidden_dim))
            layers.append(activation_layer(**params))
            layers.append(CellDropout(dropout))
            in_dim = hidden_dim
        layers.append(Linear(in_dim, hidden_channels[-1], bias=bias))
        layers.append(CellDropout(dropout))
        super().__init__(*layers)

    def forward(self, x: torch.Tensor, over=None) -> torch.Tensor:
        """Apply the layers; ``over`` keys the dropout masks (see :class:`~topodist.ops.dropout.CellDropout`).

        Parameters
        ----------
        x : torch.Tensor, shape = (..., n_cells, in_channels)
        over : torch.sparse or PartitionedNeighborhood, optional

        Returns
        -------
        torch.Tensor, shape = (..., n_cells, hidden_channels[-1])
        """
        for layer in self:
            x = layer(x, over=over) if isinstance(layer, CellDropout) else layer(x)
        return x


class AllSetBlock(torch.nn.Module):
    r"""One AllSet half step: :math:`\mathrm{MLP}_{dec}\big(\mathrm{mean}_{s \in N(t)} \mathrm{MLP}_{enc}(x_s) W\big)`.

    Parameters
    ----------
    in_channels, hidden_channels : int
    dropout : float, default=0.2
    mlp_num_layers : int, default=2
        0 replaces both MLPs by the identity.
    mlp_activation : callable, default=torch.nn.ReLU
    mlp_dropout : float, default=0.0
    mlp_norm : callable, optional
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        dropout: float = 0.2,
        mlp_num_layers: int = 2,
        mlp_activation=torch.nn.ReLU,
        mlp_dropout: float = 0.0,
        mlp_norm=None,
        **kwargs,
    ) -> None:
        super().__init__()
        self.dropout = CellDropout(dropout)
        if mlp_num_layers > 0:
            widths = [hidden_channels] * mlp_num_layers
            activation = torch.nn.ReLU if mlp_activation is None else mlp_activation
            self.encoder = MLP(
                in_channels, widths, norm_layer=mlp_norm, activation_layer=activation, dropout=mlp_dropout
            )
            self.decoder = MLP(
                hidden_channels, widths, norm_layer=mlp_norm, activation_layer=activation, dropout=mlp_dropout
            )
            in_channels = hidden_channels
        else:
            self.encoder = None
            self.decoder = None
        self.conv = Conv(in_channels=in_channels, out_channels=hidden_channels, aggr_norm=True, update_func="relu")

    def reset_parameters(self) -> None:
        """Reset the MLPs and the convolution."""
        for mlp in (self.encoder, self.decoder):
            for layer in mlp or ():
                if hasattr(layer, "reset_parameters"):
                    layer.reset_parameters()
        self.conv.reset_parameters()

    def forward(self, x_0: torch.Tensor, incidence_1) -> torch.Tensor:
        """Forward pass.

        Parameters
        ----------
        x_0 : torch.Tensor, shape = (n_source_cells, in_channels)
            Features of the source cells (TopoModelX's names: nodes, then hyperedges).
        incidence_1 : torch.sparse or PartitionedNeighborhood, shape = (n_target_cells, n_source_cells)
            Partitioned, its transpose must be partitioned too (dropout reads the source cells' ids there).

        Returns
        -------
        torch.Tensor, shape = (n_target_cells, hidden_channels)
        """
        sources = neighborhood_transpose(incidence_1)
        x = x_0 if self.encoder is None else self.encoder(x_0, over=sources)
        x = self.dropout(torch.nn.functional.relu(x), over=sources)
        x = self.conv(x, incidence_1)
        return torch.nn.functional.relu(x if self.decoder is None else self.decoder(x, over=incidence_1))


class AllSetLayer(torch.nn.Module):
    r"""AllSet: nodes to hyperedges, then hyperedges to nodes, each an :class:`AllSetBlock`.

    Parameters
    ----------
    in_channels, hidden_channels : int
    dropout : float, default=0.2
    mlp_num_layers : int, default=2
    mlp_activation : callable, default=torch.nn.ReLU
        ``None`` also means ReLU (TopoModelX 0.0.1 calls ``None`` and fails).
    mlp_dropout : float, default=0.0
    mlp_norm : callable, optional

    References
    ----------
    Chien, Pan, Peng and Milenkovic. You are AllSet: a multiset function
    framework for hypergraph neural networks. ICLR 2022.
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        dropout: float = 0.2,
        mlp_num_layers: int = 2,
        mlp_activation=torch.nn.ReLU,
        mlp_dropout: float = 0.0,
        mlp_norm=None,
        **kwargs,
    ) -> None:
        super().__init__()
        if mlp_num_layers <= 0:
            raise ValueError(f"mlp_num_layers ({mlp_num_layers}) must be positive")
        self.dropout = CellDropout(dropout)
        options = dict(
            dropout=dropout,
            mlp_num_layers=mlp_num_layers,
            mlp_activation=mlp_activation,
            mlp_dropout=mlp_dropout,
            mlp_norm=mlp_norm,
            **kwargs,
        )
        self.vertex2edge = AllSetBlock(in_channels=in_channels, hidden_channels=hidden_channels, **options)
        self.edge2vertex = AllSetBlock(in_channels=hidden_channels, hidden_channels=hidden_channels, **options)

    def reset_parameters(self) -> None:
        """Reset both blocks."""
        self.vertex2edge.reset_parameters()
        self.edge2vertex.reset_parameters()

    def forward(self, x_0: torch.Tensor, incidence_1) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward pass.

        Parameters
        ----------
        x_0 : torch.Tensor, shape = (n_nodes, in_channels)
        incidence_1 : torch.sparse or PartitionedNeighborhood, shape = (n_nodes, n_hyperedges)

        Returns
        -------
        x_0 : torch.Tensor, shape = (n_nodes, hidden_channels)
        x_1 : torch.Tensor, shape = (n_hyperedges, hidden_channels)
        """
        return through_hyperedges(x_0, incidence_1, self.vertex2edge, self.edge2vertex, self.dropout)


def through_hyperedges(x_0: torch.Tensor, incidence_1, vertex2edge, edge2vertex, dropout: CellDropout):
    """Nodes to hyperedges with ``vertex2edge``, back with ``edge2vertex``; ReLU then dropout after each.

    What AllSet's and AllSetTransformer's layers share (AllSet's blocks end in a
    ReLU already; a second one changes nothing).

    Parameters
    ----------
    x_0 : torch.Tensor, shape = (n_nodes, channels)
    incidence_1 : torch.sparse or PartitionedNeighborhood, shape = (n_nodes, n_hyperedges)
    vertex2edge, edge2vertex : callable
        ``block(x_source, neighborhood)``.
    dropout : CellDropout

    Returns
    -------
    x_0 : torch.Tensor, shape = (n_nodes, hidden_channels)
    x_1 : torch.Tensor, shape = (n_hyperedges, hidden_channels)
    """
    if x_0.shape[-2] != incidence_1.shape[-2]:
        raise ValueError(
            f"Shape of incidence matrix ({tuple(incidence_1.shape)}) does not have the correct number of "
            f"nodes ({x_0.shape[-2]})."
        )
    to_edges = neighborhood_transpose(incidence_1)
    x_1 = dropout(torch.nn.functional.relu(vertex2edge(x_0, to_edges)), over=to_edges)
    x_0 = dropout(torch.nn.functional.relu(edge2vertex(x_1, incidence_1)), over=incidence_1)
    return x_0, x_1
