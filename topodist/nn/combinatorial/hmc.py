"""HMC, as ``topomodelx.nn.combinatorial.hmc.HMC``."""

import torch

from topodist.nn.combinatorial.hmc_layer import HMCLayer

__all__ = ["HMC"]


class HMC(torch.nn.Module):
    """:class:`~topodist.nn.combinatorial.hmc_layer.HMCLayer` s with softmax attention.

    Parameters
    ----------
    channels_per_layer : list of [in_channels, intermediate_channels, out_channels]
        One entry per layer, each a list of 3 widths (ranks 0, 1, 2); a layer's
        output widths must be the next layer's input widths.
    negative_slope : float, default=0.2
    update_func_attention, update_func_aggregation : {"sigmoid", "relu", "tanh", None}, default="relu"
    reproduce_topomodelx : bool, default=True
        ``False`` corrects the split of the between-rank attention vectors (see
        :class:`~topodist.nn.combinatorial.hmc_layer.HBNS`).
    """

    def __init__(
        self,
        channels_per_layer: list[list[list[int]]],
        negative_slope: float = 0.2,
        update_func_attention: str | None = "relu",
        update_func_aggregation: str | None = "relu",
        reproduce_topomodelx: bool = True,
    ) -> None:
        super().__init__()
        if len(channels_per_layer) == 0:
            raise ValueError("channels_per_layer needs at least one layer.")
        for i in range(len(channels_per_layer) - 1):
            if list(channels_per_layer[i][2]) != list(channels_per_layer[i + 1][0]):
                raise ValueError(
                    f"layer {i} outputs widths {list(channels_per_layer[i][2])} but layer {i + 1} takes "
                    f"{list(channels_per_layer[i + 1][0])}."
                )
        self.layers = torch.nn.ModuleList(
            HMCLayer(
                in_channels=in_channels,
                intermediate_channels=intermediate_channels,
                out_channels=out_channels,
                negative_slope=negative_slope,
                softmax_attention=True,
                update_func_attention=update_func_attention,
                update_func_aggregation=update_func_aggregation,
                reproduce_topomodelx=reproduce_topomodelx,
            )
            for in_channels, intermediate_channels, out_channels in channels_per_layer
        )

    def forward(
        self,
        x_0,
        x_1,
        x_2,
        neighborhood_0_to_0,
        neighborhood_1_to_1,
        neighborhood_2_to_2,
        neighborhood_0_to_1,
        neighborhood_1_to_2,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Forward pass.

        Parameters
        ----------
        x_0, x_1, x_2 : torch.Tensor, shape = (n_cells[k], channels)
        neighborhood_0_to_0 : torch.sparse, shape = (n_nodes, n_nodes)
            E.g. ``adjacency_0``.
        neighborhood_1_to_1 : torch.sparse, shape = (n_edges, n_edges)
            E.g. ``adjacency_1``.
        neighborhood_2_to_2 : torch.sparse, shape = (n_faces, n_faces)
            E.g. ``coadjacency_2``.
        neighborhood_0_to_1 : torch.sparse, shape = (n_nodes, n_edges)
            E.g. ``incidence_1``.
        neighborhood_1_to_2 : torch.sparse, shape = (n_edges, n_faces)
            E.g. ``incidence_2``.

        Returns
        -------
        x_0, x_1, x_2 : torch.Tensor
        """
        for layer in self.layers:
            x_0, x_1, x_2 = layer(
                x_0,
                x_1,
                x_2,
                neighborhood_0_to_0,
                neighborhood_1_to_1,
                neighborhood_2_to_2,
                neighborhood_0_to_1,
                neighborhood_1_to_2,
            )
        return x_0, x_1, x_2
