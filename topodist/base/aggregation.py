"""Inter-neighborhood aggregation: merge the messages a cell received through several neighborhoods."""

from collections.abc import Sequence
from typing import Literal

import torch

__all__ = ["Aggregation"]

INTER_AGGREGATIONS = ("sum", "mean")
AGGREGATION_UPDATES = ("relu", "sigmoid", "tanh", None)


class Aggregation(torch.nn.Module):
    r"""Merge messages from several neighborhoods, then apply an update function.

    .. math::
        \mathbf{h}_x = \sigma\left( \mathrm{AGG}_{\mathcal{N}} \, m_x^{\mathcal{N}} \right)

    Parameters
    ----------
    aggr_func : {"sum", "mean"}, default="sum"
        Aggregation across neighborhoods (inter-neighborhood).
    update_func : {"relu", "sigmoid", "tanh", None}, default="sigmoid"
        Update function :math:`\sigma` applied to the merged message.
    """

    def __init__(
        self,
        aggr_func: Literal["mean", "sum"] = "sum",
        update_func: Literal["relu", "sigmoid", "tanh"] | None = "sigmoid",
    ) -> None:
        super().__init__()
        if aggr_func not in INTER_AGGREGATIONS:
            raise ValueError(
                f"aggr_func={aggr_func!r} is not supported; choose one of {INTER_AGGREGATIONS}."
            )
        if update_func not in AGGREGATION_UPDATES:
            raise ValueError(
                f"update_func={update_func!r} is not supported; "
                f"choose one of {AGGREGATION_UPDATES}."
            )
        self.aggr_func = aggr_func
        self.update_func = update_func

    def update(self, inputs: torch.Tensor) -> torch.Tensor:
        """Apply the update function (step 4).

        Parameters
        ----------
        inputs : torch.Tensor, shape = (..., n_cells, channels)
            Merged messages.

        Returns
        -------
        torch.Tensor, shape = (..., n_cells, channels)
            Updated features.
        """
        if self.update_func == "sigmoid":
            return torch.sigmoid(inputs)
        if self.update_func == "relu":
            return torch.nn.functional.relu(inputs)
        if self.update_func == "tanh":
            return torch.tanh(inputs)
        return inputs

    def forward(self, x: Sequence[torch.Tensor]) -> torch.Tensor:
        """Merge a list of messages on the same cells.

        Parameters
        ----------
        x : sequence of torch.Tensor, each of shape = (..., n_cells, channels)
            Messages to merge, one per neighborhood; all of the same shape.

        Returns
        -------
        torch.Tensor, shape = (..., n_cells, channels)
            Merged and updated messages.
        """
        if isinstance(x, torch.Tensor) or len(x) == 0:
            raise ValueError(
                "Aggregation expects a non-empty list of tensors of one shape, "
                f"got {type(x).__name__} of length {len(x)}."
            )
        shapes = {tuple(message.shape) for message in x}
        if len(shapes) != 1:
            raise ValueError(
                f"Aggregation needs messages of one shape, got shapes {sorted(shapes)}."
            )
        merged = x[0]
        for message in x[1:]:
            merged = merged + message
        if self.aggr_func == "mean":
            merged = merged / len(x)
        return self.update(merged)
