"""Wrap a TopoModelX-style backbone with input projections and a classification head.

TopoModelX models take positional features and neighborhoods
(``HSN.forward(x_0, incidence_1, adjacency_0)``) and keep one width; the
tutorials add a linear layer in front and a head behind. :class:`CellClassifier`
does that from a config: ``inputs`` names each forward argument, either
``x_K`` (features of rank K, projected to ``hidden_channels``) or a
neighborhood name, or a list or dict of those for models that take tuples
(``SCCNN.forward(x_all, laplacian_all, incidence_all)``) or dicts
(``SCCN.forward(features, incidences, adjacencies)``).
"""

from collections.abc import Iterator

import torch

from topodist.data.neighborhoods import parse_neighborhood_name
from topodist.ops.dense import Linear
from topodist.ops.scatter import scatter

__all__ = ["CellClassifier", "ComplexClassifier"]


class CellClassifier(torch.nn.Module):
    """``head(backbone(project(x_K), neighborhoods...))`` on the cells of one rank.

    Parameters
    ----------
    backbone : torch.nn.Module
        A model such as :class:`topodist.nn.simplicial.hsn.HSN`.
    inputs : list of (str, list of str or dict of str to str)
        The backbone's forward arguments, in order: ``"x_K"`` or a neighborhood name;
        a list or dict of names passes a list or dict of those.
    in_channels : dict of int to int
        Feature width of each rank the backbone reads.
    hidden_channels : int
        Width the backbone works at.
    n_classes : int
        Number of classes (the head's width; 1 for regression).
    rank : int, default=0
        Rank of the classified cells.
    output : int or str, optional
        When the backbone returns a tuple, list or dict, the index or key of the
        classified rank's output.
    """

    def __init__(
        self,
        backbone: torch.nn.Module,
        inputs: list[str | list[str] | dict[str, str]],
        in_channels: dict[int, int],
        hidden_channels: int,
        n_classes: int,
        rank: int = 0,
        output: int | str | None = None,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.inputs = list(inputs)
        self.rank = rank
        self.output = output
        self.n_classes = n_classes
        self.in_channels = {int(k): int(v) for k, v in in_channels.items()}
        feature_ranks = list(dict.fromkeys(int(name[2:]) for name in _names(self.inputs) if name.startswith("x_")))
        missing = [k for k in feature_ranks if k not in self.in_channels]
        if missing:
            raise ValueError(f"in_channels has no width for the features of rank(s) {missing} named in inputs.")
        for name in _names(self.inputs):
            if not name.startswith("x_"):
                parse_neighborhood_name(name.removesuffix(".T"))  # an unknown name fails here, by name
        self.project = torch.nn.ModuleDict(
            {str(k): Linear(self.in_channels[k], hidden_channels) for k in feature_ranks}
        )
        self.head = Linear(hidden_channels, n_classes)

    @property
    def neighborhoods(self) -> list[str]:
        """Neighborhoods to partition: those named in ``inputs``, and the other orientation of incidences."""
        names = [name for name in _names(self.inputs) if not name.startswith("x_")]
        names += [
            name.removesuffix(".T") if name.endswith(".T") else f"{name}.T"
            for name in names
            if name.startswith("incidence")
        ]
        return list(dict.fromkeys(names))

    def forward(self, x: dict[int, torch.Tensor], neighborhoods: dict) -> dict[int, torch.Tensor]:
        """Logits of the classified rank's cells.

        Parameters
        ----------
        x : dict of int to torch.Tensor
            Rank -> features, shape = (n_cells, in_channels[rank]).
        neighborhoods : dict of str to neighborhood
            Name -> torch sparse tensor or partitioned neighborhood.

        Returns
        -------
        dict of int to torch.Tensor
            ``{rank: logits}``, shape = (n_cells, n_classes).
        """
        return {self.rank: self.head(self.hidden(x, neighborhoods))}

    def hidden(self, x: dict[int, torch.Tensor], neighborhoods: dict) -> torch.Tensor:
        """The backbone's output on the classified rank, shape = (n_cells, hidden_channels)."""
        projected = {int(k): layer(x[int(k)]) for k, layer in self.project.items()}

        def resolve(item):
            if isinstance(item, list | tuple):
                return [resolve(value) for value in item]
            if isinstance(item, dict):
                return {key: resolve(value) for key, value in item.items()}
            return projected[int(item[2:])] if item.startswith("x_") else neighborhoods[item]

        hidden = self.backbone(*resolve(self.inputs))
        return hidden if self.output is None else hidden[self.output]


class ComplexClassifier(CellClassifier):
    """Pool a backbone's cell outputs per complex, then classify each complex.

    Parameters are those of :class:`CellClassifier`, plus:

    readout : {"sum", "mean", "max"}, default="mean"
        Pooling of the ``rank`` cells of each complex.
    """

    def __init__(
        self,
        backbone: torch.nn.Module,
        inputs: list[str],
        in_channels: dict[int, int],
        hidden_channels: int,
        n_classes: int,
        rank: int = 0,
        output: int | None = None,
        readout: str = "mean",
    ) -> None:
        super().__init__(backbone, inputs, in_channels, hidden_channels, n_classes, rank, output)
        if readout not in ("sum", "mean", "max"):
            raise ValueError(f"readout={readout!r} is not a readout; choose sum, mean or max.")
        self.readout = readout

    def forward(self, x: dict[int, torch.Tensor], neighborhoods: dict, batch: torch.Tensor, n_complexes: int):
        """Logits per complex.

        Parameters
        ----------
        x, neighborhoods
            As for :class:`CellClassifier`, over a block-diagonal batch.
        batch : torch.Tensor, shape = (n_cells,)
            Complex of each ``rank`` cell.
        n_complexes : int

        Returns
        -------
        torch.Tensor, shape = (n_complexes, n_classes)
        """
        pooled = scatter(self.hidden(x, neighborhoods), batch, dim=-2, dim_size=n_complexes, reduce=self.readout)
        return self.head(pooled)


def _names(inputs) -> Iterator[str]:
    """Every name in ``inputs``, through nested lists and dicts, in order."""
    for item in inputs:
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            yield from _names(list(item.values()))
        else:
            yield from _names(item)
