"""Train a two-layer topological network on one device: node classification on a mesh.

The complex is a triangulated planar grid. Node labels are the sign of a smooth
field on the surface; node features are that field drowned in noise, so a node
alone is often wrong and the model must average over its neighborhood. Messages
go from nodes to edges through ``B1.T`` and back to nodes through ``B1``.

Run with ``python examples/train_node_classification.py`` (``make train`` runs the Lightning job).
"""

import argparse

import numpy as np
import torch

from topodist import Aggregation, Conv


def grid_incidence(side: int) -> tuple[torch.Tensor, np.ndarray]:
    """Unsigned node-to-edge incidence ``B1`` of a triangulated ``side x side`` grid.

    Returns
    -------
    incidence_1 : torch.sparse, shape = (side * side, n_edges)
        ``B1[v, e] = 1`` when node ``v`` bounds edge ``e``.
    positions : np.ndarray, shape = (side * side, 2)
        Node coordinates in ``[0, 1]^2``.
    """
    ids = np.arange(side * side).reshape(side, side)
    horizontal = np.stack([ids[:, :-1].ravel(), ids[:, 1:].ravel()], axis=1)
    vertical = np.stack([ids[:-1, :].ravel(), ids[1:, :].ravel()], axis=1)
    diagonal = np.stack([ids[:-1, :-1].ravel(), ids[1:, 1:].ravel()], axis=1)
    edges = np.concatenate([horizontal, vertical, diagonal])
    rows = torch.from_numpy(edges.ravel())
    cols = torch.arange(len(edges)).repeat_interleave(2)
    incidence_1 = torch.sparse_coo_tensor(
        torch.stack([rows, cols]),
        torch.ones(len(rows)),
        (side * side, len(edges)),
        check_invariants=True,
    ).coalesce()
    grid = np.linspace(0.0, 1.0, side)
    positions = np.stack(np.meshgrid(grid, grid, indexing="ij"), axis=-1).reshape(-1, 2)
    return incidence_1, positions


class NodeEdgeNetwork(torch.nn.Module):
    """Nodes -> edges -> nodes, with a skip connection on the nodes."""

    def __init__(self, in_channels: int, hidden_channels: int, n_classes: int) -> None:
        super().__init__()
        self.node_to_edge = Conv(in_channels, hidden_channels, aggr_norm=True, update_func="relu")
        self.edge_to_node = Conv(hidden_channels, hidden_channels, aggr_norm=True)
        self.node_to_node = torch.nn.Linear(in_channels, hidden_channels)
        self.merge = Aggregation(aggr_func="sum", update_func="relu")
        self.readout = torch.nn.Linear(hidden_channels, n_classes)

    def forward(self, x_0: torch.Tensor, incidence_1: torch.Tensor) -> torch.Tensor:
        x_1 = self.node_to_edge(x_0, incidence_1.t())
        x_0 = self.merge([self.edge_to_node(x_1, incidence_1), self.node_to_node(x_0)])
        return self.readout(x_0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=60, help="nodes per side of the grid")
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--noise", type=float, default=1.0, help="feature noise std")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    incidence_1, positions = grid_incidence(args.side)
    field = np.sin(2 * np.pi * positions[:, 0]) * np.cos(3 * np.pi * positions[:, 1])
    labels = torch.from_numpy((field > 0).astype(np.int64))
    noisy = field + args.noise * rng.standard_normal(len(field))
    x_0 = torch.from_numpy(np.stack([noisy, np.ones_like(noisy)], axis=1)).float()
    train_mask = torch.from_numpy(rng.random(len(field)) < 0.5)

    model = NodeEdgeNetwork(in_channels=2, hidden_channels=16, n_classes=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    node_only = (x_0[:, 0] > 0).long()
    print(f"{len(field)} nodes, {incidence_1.shape[1]} edges")
    print(f"accuracy of the noisy feature's sign alone: {_accuracy(node_only, labels, ~train_mask):.3f}")
    for epoch in range(1, args.epochs + 1):
        optimizer.zero_grad()
        logits = model(x_0, incidence_1)
        loss = torch.nn.functional.cross_entropy(logits[train_mask], labels[train_mask])
        loss.backward()
        optimizer.step()
        if epoch % 25 == 0 or epoch == 1:
            predicted = logits.argmax(dim=1)
            print(
                f"epoch {epoch:4d}  loss {loss.item():.4f}  "
                f"train acc {_accuracy(predicted, labels, train_mask):.3f}  "
                f"test acc {_accuracy(predicted, labels, ~train_mask):.3f}"
            )


def _accuracy(predicted: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> float:
    return float((predicted[mask] == labels[mask]).float().mean())


if __name__ == "__main__":
    main()
