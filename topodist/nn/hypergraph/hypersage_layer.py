"""HyperSAGE layer, as ``topomodelx.nn.hypergraph.hypersage_layer``."""

from typing import Literal

import torch

from topodist.base.aggregation import Aggregation
from topodist.base.message_passing import MessagePassing
from topodist.distributed.readout import global_pool
from topodist.distributed.sampling import sample_row_entries
from topodist.nn.updates import apply_update
from topodist.ops.neighborhood import neighborhood_matmul, neighborhood_transpose
from topodist.ops.polynomial import inverse_row_sums

__all__ = ["GeneralizedMean", "HyperSAGELayer"]


class GeneralizedMean(Aggregation):
    r"""Power mean over the second-to-last dimension: :math:`(\frac{1}{n} \sum_i x_i^p)^{1/p}`.

    Parameters
    ----------
    power : int, default=2
    **kwargs
        Passed to :class:`~topodist.base.aggregation.Aggregation`.
    """

    def __init__(self, power: int = 2, **kwargs) -> None:
        super().__init__(**kwargs)
        self.power = power

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Power mean of ``x`` of shape ``(..., n, channels)``: shape ``(..., channels)``."""
        n = x.size()[-2]
        return torch.pow(torch.sum(torch.pow(x, self.power), -2) / n, 1 / self.power)


class HyperSAGELayer(MessagePassing):
    r"""Power means within each hyperedge, then across each node's hyperedges, weighted by their sizes.

    .. math::
        \begin{align*}
        m_e &= \Big(\frac{1}{|e|} \sum_{v \in e} h_v^p\Big)^{1/p}, \qquad
        w_{ve} = \frac{|e|}{\sum_{f \ni v} |f|}\\
        m_v &= \Big(\frac{1}{d_v} \sum_{e \ni v} (w_{ve} m_e)^p\Big)^{1/p}, \qquad
        h'_v = \sigma\Big(\frac{h_v + m_v}{\lVert h + m \rVert_F}\, \Theta\Big)
        \end{align*}

    TopoModelX 0.0.1 loops in Python over hyperedges and nodes; topodist computes
    the same with two sparse products through the incidence (exact on a
    partitioned hypergraph), and the Frobenius norm over all nodes with an
    all-reduce there. Nodes in no hyperedge get :math:`m_v = 0` (NaN in 0.0.1, which
    then spreads to every node through the norm).

    Parameters
    ----------
    in_channels, out_channels : int
    alpha : int, default=-1
        Sample at most ``alpha`` nodes per hyperedge at every call (as
        TopoModelX, in training and eval); -1 uses all. The subsample is drawn
        per global (hyperedge, node) pair
        (:func:`~topodist.distributed.sampling.sample_row_entries`), not with
        ``torch.randperm`` per hyperedge: the same on any number of parts, but
        not TopoModelX's draws.
    aggr_func_intra, aggr_func_inter : GeneralizedMean, optional
        Power means within hyperedges and across a node's hyperedges (power 2).
    update_func : {"relu", "sigmoid"}, default="relu"
    initialization : {"uniform", "xavier_uniform", "xavier_normal"}, default="uniform"
    device : str, default="cpu"

    References
    ----------
    Arya, Gupta, Rudinac and Worring. HyperSAGE: generalizing inductive
    representation learning on hypergraphs (2020). https://arxiv.org/abs/2010.04558
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        alpha: int = -1,
        aggr_func_intra: Aggregation | None = None,
        aggr_func_inter: Aggregation | None = None,
        update_func: Literal["relu", "sigmoid"] = "relu",
        initialization: Literal["uniform", "xavier_uniform", "xavier_normal"] = "uniform",
        device: str = "cpu",
        **kwargs,
    ) -> None:
        super().__init__(initialization=initialization)
        if alpha != -1 and alpha < 1:
            raise ValueError(f"alpha={alpha}: sample a positive number of nodes per hyperedge, or -1 for all.")
        if update_func not in ("relu", "sigmoid"):
            raise ValueError(f"update_func={update_func!r} is not supported; choose 'relu' or 'sigmoid'.")
        aggr_func_intra = GeneralizedMean(power=2, update_func=None) if aggr_func_intra is None else aggr_func_intra
        aggr_func_inter = GeneralizedMean(power=2, update_func=None) if aggr_func_inter is None else aggr_func_inter
        for aggregation in (aggr_func_intra, aggr_func_inter):
            if not isinstance(aggregation, GeneralizedMean):
                raise TypeError(f"{type(aggregation).__name__}: HyperSAGELayer takes GeneralizedMean aggregations.")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.alpha = alpha
        self.aggr_func_intra = aggr_func_intra
        self.aggr_func_inter = aggr_func_inter
        self.update_func = update_func
        self.device = device
        self.weight = torch.nn.Parameter(torch.empty(in_channels, out_channels, device=device))
        self.reset_parameters()

    def update(self, x_message_on_target: torch.Tensor) -> torch.Tensor:
        """:math:`\\sigma`: ReLU or sigmoid."""
        return apply_update(x_message_on_target, self.update_func)

    def forward(self, x: torch.Tensor, incidence) -> torch.Tensor:
        """Forward pass.

        Parameters
        ----------
        x : torch.Tensor, shape = (n_nodes, in_channels)
        incidence : torch.sparse, shape = (n_nodes, n_hyperedges)
            0/1 incidence of the hypergraph.

        Returns
        -------
        torch.Tensor, shape = (n_nodes, out_channels)
        """
        p, q = self.aggr_func_intra.power, self.aggr_func_inter.power
        to_edges = neighborhood_transpose(incidence)
        if self.alpha != -1:
            to_edges = sample_row_entries(to_edges, self.alpha)  # the nodes each hyperedge hears
        inverse_size = inverse_row_sums(to_edges).unsqueeze(-1)  # 1 / |e| (sampled), owned hyperedges
        edge_means = torch.pow(neighborhood_matmul(to_edges, torch.pow(x, p)) * inverse_size, 1 / p)
        size = torch.where(inverse_size != 0, 1 / torch.where(inverse_size != 0, inverse_size, 1), 0)
        size_sums = neighborhood_matmul(incidence, size)  # sum of |e| over each node's hyperedges
        weighted = neighborhood_matmul(incidence, torch.pow(size * edge_means, q))
        inverse_degree = inverse_row_sums(incidence).unsqueeze(-1)
        safe_sums = torch.where(size_sums != 0, size_sums, torch.ones_like(size_sums))
        node_means = torch.pow(weighted * inverse_degree / torch.pow(safe_sums, q), 1 / q)
        x_message = x + node_means
        norm = torch.sqrt(global_pool((x_message**2).sum(-1, keepdim=True), "sum", over=incidence))
        return self.update((x_message / norm) @ self.weight)
