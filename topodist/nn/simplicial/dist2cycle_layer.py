"""Dist2Cycle layer, as ``topomodelx.nn.simplicial.dist2cycle_layer.Dist2CycleLayer``."""

import torch

from topodist.base.aggregation import Aggregation
from topodist.ops.dense import Linear
from topodist.ops.neighborhood import torch_order_matmul

__all__ = ["Dist2CycleLayer"]


class Dist2CycleLayer(torch.nn.Module):
    r"""Edge features through the adjacency-masked inverse of the shifted down Laplacian.

    With ``reproduce_topomodelx=False`` (the model of the paper):

    .. math::
        h' = \mathrm{ReLU}\big( (A \odot \tilde L^{+})\, h\, W + b \big)

    With ``reproduce_topomodelx=True`` (the default), TopoModelX 0.0.1's layer,
    which ignores ``x_e``: it returns :math:`\mathrm{ReLU}(A \odot \tilde L^{+}) W^T + b`,
    the rows of the ``(n_edges, n_edges)`` matrix fed to the linear layer, so it
    needs ``channels == n_edges`` and every column of every row. A partitioned
    complex has neither, so that mode runs on one device only (ValueError otherwise).

    Parameters
    ----------
    channels : int
    reproduce_topomodelx : bool, default=True

    References
    ----------
    Keros, Nanda and Subr. Dist2Cycle: a simplicial neural network for homology
    localization. AAAI 2022.
    """

    def __init__(self, channels: int, reproduce_topomodelx: bool = True) -> None:
        super().__init__()
        self.channels = channels
        self.reproduce_topomodelx = reproduce_topomodelx
        self.fc_neigh = Linear(channels, channels, bias=True)
        self.aggr_on_edges = Aggregation(aggr_func="sum", update_func="relu")

    def reset_parameters(self) -> None:
        """Reset the linear layer (Kaiming uniform for a ReLU), as TopoModelX 0.0.1 does."""
        self.fc_neigh.reset_parameters()
        torch.nn.init.kaiming_uniform_(self.fc_neigh.weight, a=0.0, nonlinearity="relu")

    def forward(self, x_e: torch.Tensor, Linv, adjacency) -> torch.Tensor:  # noqa: N803 (TopoModelX's name)
        """Forward pass.

        Parameters
        ----------
        x_e : torch.Tensor, shape = (n_edges, channels)
            Edge features (unused with ``reproduce_topomodelx=True``).
        Linv : torch.Tensor, shape = (n_edges, n_edges)
            :math:`\\tilde L^{+} = (L_\\downarrow + I)^{-1}`, dense, or only its entries on the
            pattern of ``adjacency`` and the diagonal (neighborhood ``inverse_shifted_down_laplacian_1``).
        adjacency : torch.Tensor, shape = (n_edges, n_edges)
            :math:`A` (``adjacency_1``).

        Returns
        -------
        torch.Tensor, shape = (n_edges, channels)
        """
        propagation = adjacency * Linv
        if not self.reproduce_topomodelx:
            return self.aggr_on_edges([self.fc_neigh(torch_order_matmul(propagation, x_e))])
        if not isinstance(propagation, torch.Tensor):
            raise ValueError(
                "Dist2Cycle with reproduce_topomodelx=True (TopoModelX 0.0.1's layer) feeds whole rows of the "
                "(n_edges, n_edges) matrix A * Linv to a linear layer and ignores the features, so it cannot run "
                "on a partitioned complex; use reproduce_topomodelx=False, the paper's layer."
            )
        if propagation.is_sparse:
            propagation = propagation.to_dense()
        return self.fc_neigh(self.aggr_on_edges([propagation]))
