"""Simplicial Complex Convolutional Network layer, as ``topomodelx.nn.simplicial.sccn_layer.SCCNLayer``."""

from typing import Literal

import torch

from topodist.base.aggregation import Aggregation
from topodist.base.conv import Conv
from topodist.ops.neighborhood import neighborhood_transpose

__all__ = ["SCCNLayer"]


class SCCNLayer(torch.nn.Module):
    r"""Every rank receives from itself (adjacency) and from the ranks just below and above (incidences).

    .. math::
        h'^{(r)} = \sigma\Big( A_r h^{(r)} \Theta^{r \to r}
            + B_{r+1} h^{(r+1)} \Theta^{r+1 \to r} + B_r^T h^{(r-1)} \Theta^{r-1 \to r} \Big)

    Parameters
    ----------
    channels : int
        Width of the features of every rank, in and out.
    max_rank : int
        Highest rank of the complex.
    aggr_func : {"mean", "sum"}, default="sum"
        How the two or three messages of a rank combine.
    update_func : {"relu", "sigmoid", "tanh", None}, default="sigmoid"

    References
    ----------
    Yang, Sala and Bogdan. Efficient representation learning for higher-order
    data with simplicial complexes. LoG 2022.
    """

    def __init__(
        self,
        channels: int,
        max_rank: int,
        aggr_func: Literal["mean", "sum"] = "sum",
        update_func: Literal["relu", "sigmoid", "tanh", None] = "sigmoid",
    ) -> None:
        super().__init__()
        self.channels = channels
        self.max_rank = max_rank

        def conv() -> Conv:
            return Conv(in_channels=channels, out_channels=channels, update_func=None)

        self.convs_same_rank = torch.nn.ModuleDict({f"rank_{r}": conv() for r in range(max_rank + 1)})
        self.convs_low_to_high = torch.nn.ModuleDict({f"rank_{r}": conv() for r in range(1, max_rank + 1)})
        self.convs_high_to_low = torch.nn.ModuleDict({f"rank_{r}": conv() for r in range(max_rank)})
        self.aggregations = torch.nn.ModuleDict(
            {f"rank_{r}": Aggregation(aggr_func=aggr_func, update_func=update_func) for r in range(max_rank + 1)}
        )

    def reset_parameters(self) -> None:
        """Reset the parameters of every convolution."""
        for convs in (self.convs_same_rank, self.convs_low_to_high, self.convs_high_to_low):
            for conv in convs.values():
                conv.reset_parameters()

    def forward(self, features: dict, incidences: dict, adjacencies: dict) -> dict:
        """Forward pass.

        Parameters
        ----------
        features : dict[str, torch.Tensor]
            ``"rank_r"``: features of shape ``(n_r, channels)``, for r = 0..max_rank.
        incidences : dict[str, torch.sparse]
            ``"rank_r"``: :math:`B_r` of shape ``(n_{r-1}, n_r)``, for r = 1..max_rank.
        adjacencies : dict[str, torch.sparse]
            ``"rank_r"``: adjacency of shape ``(n_r, n_r)``, for r = 0..max_rank.

        Returns
        -------
        dict[str, torch.Tensor]
            ``"rank_r"``: shape ``(n_r, channels)``.
        """
        out_features = {}
        for rank in range(self.max_rank + 1):
            key = f"rank_{rank}"
            messages = [self.convs_same_rank[key](features[key], adjacencies[key])]
            if rank < self.max_rank:
                above = f"rank_{rank + 1}"
                messages.append(self.convs_high_to_low[key](features[above], incidences[above]))
            if rank > 0:
                below = f"rank_{rank - 1}"
                messages.append(self.convs_low_to_high[key](features[below], neighborhood_transpose(incidences[key])))
            out_features[key] = self.aggregations[key](messages)
        return out_features
