"""Many small complexes, data parallel: each rank trains on its share of every batch.

A batch of complexes is one complex made of disjoint blocks: features of each
rank are concatenated, every neighborhood is block-diagonal, and ``batch[r]``
gives the complex each cell of rank ``r`` belongs to. ``batch_size`` counts
the complexes of one step over all ranks: the global batches are cut from one
seeded permutation per epoch and rank ``r`` takes complexes ``r, r + P, ...``
of each, so a run on P ranks takes exactly the steps one process takes (the
trainer keeps ``use_distributed_sampler=False``; the sampler is built here).
"""

from dataclasses import dataclass
from functools import partial

import numpy as np
import scipy.sparse as sp
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset, Sampler

from topodist.data.complex import Complex
from topodist.data.sources import load_complex_dataset
from topodist.data.sparse import to_torch_sparse
from topodist.training.data import check_neighborhoods, one_item_loader

__all__ = ["ComplexBatch", "ComplexDatasetData", "GlobalBatchSampler", "collate_complexes"]


@dataclass
class ComplexBatch:
    """Disjoint complexes as one block-diagonal complex.

    Attributes
    ----------
    x : dict of int to torch.Tensor
        Rank -> features of all cells of that rank, complex after complex.
    neighborhoods : dict of str to torch.Tensor
        Name -> block-diagonal sparse matrix.
    batch : dict of int to torch.Tensor
        Rank -> index of the complex each cell belongs to, shape = (n_cells,).
    labels : torch.Tensor, shape = (n_complexes,)
    index : torch.Tensor, shape = (n_complexes,), optional
        Position of each complex in the dataset; set by the prediction loader.
    """

    x: dict[int, torch.Tensor]
    neighborhoods: dict[str, torch.Tensor]
    batch: dict[int, torch.Tensor]
    labels: torch.Tensor
    index: torch.Tensor | None = None

    @property
    def n_complexes(self) -> int:
        """Number of complexes in the batch."""
        return len(self.labels)


def collate_complexes(
    complexes: list[Complex], neighborhoods: list[str], template: Complex | None = None
) -> ComplexBatch:
    """Stack complexes block-diagonally.

    Parameters
    ----------
    complexes : list of Complex
        Each with ``complex_label`` set and features on the ranks the model reads.
        Empty for a rank whose share of a short last batch is nothing: it still
        takes the step (DDP needs every rank's gradients) on a batch of no cells.
    neighborhoods : list of str
    template : Complex, optional
        A complex of the dataset, which gives an empty batch its ranks, feature
        widths and dtypes; needed when ``complexes`` is empty.

    Returns
    -------
    ComplexBatch
    """
    if not complexes:
        if template is None:
            raise ValueError("an empty batch needs a template complex for its ranks and feature widths.")
        return _empty_batch(template, neighborhoods)
    ranks = sorted(set.intersection(*(set(c.features) for c in complexes)))
    x = {r: torch.cat([c.features[r].float() for c in complexes]) for r in ranks}
    n_ranks = min(len(c.n_cells) for c in complexes)
    batch = {
        r: torch.repeat_interleave(torch.arange(len(complexes)), torch.tensor([c.n_cells[r] for c in complexes]))
        for r in range(n_ranks)
    }
    matrices = {name: to_torch_sparse(sp.block_diag([c.matrix(name) for c in complexes], format="csr"))
                for name in neighborhoods}
    labels = torch.tensor([c.complex_label for c in complexes], dtype=torch.long)
    return ComplexBatch(x, matrices, batch, labels)


def _empty_batch(template: Complex, neighborhoods: list[str]) -> ComplexBatch:
    """A batch of no complex: ``template``'s ranks and widths, no cells (every neighborhood 0 x 0)."""
    x = {r: features[:0].float() for r, features in template.features.items()}
    batch = {r: torch.zeros(0, dtype=torch.long) for r in range(len(template.n_cells))}
    matrices = {name: to_torch_sparse(template.matrix(name)[:0, :0]) for name in neighborhoods}
    return ComplexBatch(x, matrices, batch, torch.zeros(0, dtype=torch.long))


class _PositionedBatches(Dataset):
    """One rank's share of each batch, collated: item ``i`` is its ``i``-th, with the complexes' dataset positions
    as the batch's ``index``.

    Parameters
    ----------
    complexes : list of Complex
    shares : list of list of int
        Positions of the complexes of each batch (a :class:`GlobalBatchSampler`'s).
    neighborhoods : list of str
    template : Complex
        For empty shares (:func:`collate_complexes`).
    """

    def __init__(self, complexes: list[Complex], shares: list[list[int]], neighborhoods: list[str],
                 template: Complex) -> None:
        self.complexes, self.shares, self.neighborhoods, self.template = complexes, shares, neighborhoods, template

    def __len__(self) -> int:
        return len(self.shares)

    def __getitem__(self, item: int) -> ComplexBatch:
        positions = self.shares[item]
        batch = collate_complexes([self.complexes[p] for p in positions], self.neighborhoods, self.template)
        batch.index = torch.tensor(positions, dtype=torch.long)
        return batch


class GlobalBatchSampler(Sampler):
    """This rank's share of each global batch: positions ``rank, rank + P, ...`` of it.

    A last batch of fewer than P complexes leaves some ranks an empty share.

    Parameters
    ----------
    n_items, batch_size, world_size, rank : int
        ``batch_size`` is global; every rank gets the same number of batches.
    shuffle : bool
        A new seeded permutation each epoch (``set_epoch``), else the dataset order.
    seed : int
    """

    def __init__(self, n_items: int, batch_size: int, world_size: int, rank: int, shuffle: bool, seed: int) -> None:
        self.n_items, self.batch_size, self.world_size, self.rank = n_items, batch_size, world_size, rank
        self.shuffle, self.seed, self.epoch = shuffle, seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the permutation of ``epoch``."""
        self.epoch = epoch

    def __iter__(self):
        order = (
            np.random.default_rng([self.seed, self.epoch]).permutation(self.n_items)
            if self.shuffle else np.arange(self.n_items)
        )
        for start in range(0, self.n_items, self.batch_size):
            yield order[start : start + self.batch_size][self.rank :: self.world_size].tolist()

    def __len__(self) -> int:
        return -(-self.n_items // self.batch_size)


class ComplexDatasetData(LightningDataModule):
    """A dataset of small complexes, split 60/20/20 by a seed, batched block-diagonally.

    Parameters
    ----------
    source : str
        A directory of class folders holding mesh files or saved complexes
        (:mod:`topodist.data.class_folders`), or a dataset of complexes, e.g.
        ``genus:200`` (see :func:`topodist.data.sources.load_complex_dataset`).
    batch_size : int, default=16
        Complexes per step over all ranks (at least the number of ranks).
    seed : int, default=0
        Seed of the split and of the shuffling.
    neighborhoods : list of str, optional
        Neighborhoods to build besides those the model declares.
    """

    def __init__(
        self, source: str, batch_size: int = 16, seed: int = 0, neighborhoods: list[str] | None = None
    ) -> None:
        super().__init__()
        self.source = source
        self.batch_size = batch_size
        self.seed = seed
        self.neighborhoods = list(neighborhoods or [])
        self.complexes: list[Complex] | None = None
        self.splits: dict[str, list[Complex]] | None = None

    def setup(self, stage: str | None = None) -> None:
        """Load and split the dataset (once)."""
        if self.splits is not None:
            return
        try:
            complexes = load_complex_dataset(self.source)
        except ValueError as error:
            raise ValueError(f"data.source={self.source!r}: {error}") from None
        self.complexes = complexes
        order = np.random.default_rng(self.seed).permutation(len(complexes))
        cut_train, cut_val = int(0.6 * len(order)), int(0.8 * len(order))
        self.splits = {
            "train": [complexes[i] for i in order[:cut_train]],
            "val": [complexes[i] for i in order[cut_train:cut_val]],
            "test": [complexes[i] for i in order[cut_val:]],
        }

    def partition(self, neighborhoods: list[str]) -> None:
        """Add the model's neighborhoods (data parallel: nothing is partitioned) and check them."""
        self.setup()
        self.neighborhoods = list(dict.fromkeys([*self.neighborhoods, *neighborhoods]))
        check_neighborhoods(self.splits["train"][0], self.neighborhoods, self.source)

    def _loader(self, split: str) -> DataLoader:
        world_size = self.trainer.world_size if self.trainer else 1
        rank = self.trainer.global_rank if self.trainer else 0
        if self.batch_size < world_size:
            raise ValueError(
                f"data.init_args.batch_size={self.batch_size} is smaller than the {world_size} ranks: "
                "every rank needs a complex in every step."
            )
        template = self.complexes[0]
        if split == "predict":  # every complex, in the dataset's order, each batch one item (see one_item_loader)
            shares = list(GlobalBatchSampler(len(self.complexes), self.batch_size, world_size, rank, False, self.seed))
            return one_item_loader(_PositionedBatches(self.complexes, shares, self.neighborhoods, template))
        dataset = self.splits[split]
        sampler = GlobalBatchSampler(len(dataset), self.batch_size, world_size, rank, split == "train", self.seed)
        collate = partial(collate_complexes, neighborhoods=self.neighborhoods, template=template)
        # its own generator: iterators draw nothing from torch's global one (see one_item_loader)
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, generator=torch.Generator())

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        """Every complex of the dataset (all splits), in its order: predictions are indexed by position."""
        return self._loader("predict")
