"""One large complex, partitioned across the trainer's ranks: each rank gets its shard.

Full-batch training: one step is one pass over the whole local shard, so the
loaders yield a single placeholder batch per epoch and the module reads the
shard itself; run the trainer with ``use_distributed_sampler=False``. With one
process and no process group the module uses the whole complex directly.
"""

import datetime
from dataclasses import dataclass
from typing import Literal

import torch
import torch.distributed as dist
from lightning.pytorch import LightningDataModule
from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import DataLoader, Dataset

from topodist.data.complex import Complex
from topodist.data.sources import load_source
from topodist.distributed.chain import NeighborhoodChain
from topodist.partition import assign_cells, build_shards
from topodist.partition.plan import Shard
from topodist.partition.product_forms import (
    PRODUCT_FORM_MODES,
    ProductForm,
    choose_product_forms,
    laplacian_factors,
    matrices_to_partition,
)
from topodist.partition.shards import load_shard, prepare_shards

__all__ = ["PartitionSettings", "PartitionedComplexData", "check_neighborhoods", "one_item_loader"]


def check_neighborhoods(complex_: Complex, names: list[str], source: str) -> None:
    """Build every named neighborhood of ``complex_``, or name the one the dataset cannot provide."""
    for name in names:
        try:
            complex_.matrix(name)
        except ValueError as error:
            raise ValueError(
                f"neighborhood {name!r}, needed by the model, is not available on data.source={source!r}: {error}"
            ) from None


@dataclass
class PartitionSettings:
    """How the complex is split (``--data.partition.method random`` and so on).

    Attributes
    ----------
    method : {"metis", "random", "contiguous"}
    seed : int
        Seed of ``random`` and of METIS.
    shard_dir : str, optional
        Write the shards there once (rank 0; reused when they match) and have
        each rank read only its own; without it every rank partitions in memory.
    """

    method: str = "metis"
    seed: int = 0
    shard_dir: str | None = None


class _OneStep(Dataset):
    """A single placeholder item: the step runs on the shard the module holds."""

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> int:
        return index


def _only_item(items: list):
    """Collate a batch of one item that is itself a whole batch."""
    (item,) = items
    return item


def one_item_loader(dataset: Dataset) -> DataLoader:
    """A loader whose batches are ``dataset``'s items, one each, through a plain ``BatchSampler``.

    In prediction Lightning tracks the indices of a plain batch sampler and
    warns about any other (no batch sampler, or a custom one).

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        Each item a whole batch.

    Returns
    -------
    torch.utils.data.DataLoader
    """
    # its own generator: creating an iterator then draws nothing from torch's global one, which
    # dropout keys come from (and which a resumed run restores; see TrainingTask.on_train_start)
    return DataLoader(dataset, batch_size=1, collate_fn=_only_item, generator=torch.Generator())


SHARD_WRITE_TIMEOUT = datetime.timedelta(hours=2)  # rank 0 partitions and writes; a dead rank 0 still fails at once


class PartitionedComplexData(LightningDataModule):
    """A complex from a source string, partitioned for the trainer's world size.

    Parameters
    ----------
    source : str
        What ``topodist inspect`` accepts: a dataset (``karate``,
        ``torus:40x20``, ``rgg:N:R``, ...), a mesh file or a saved complex.
    neighborhoods : list of str, optional
        Neighborhoods to partition besides those the model declares
        (transposes as ``name.T``).
    partition : PartitionSettings, optional
        Method, seed and shard directory; METIS in memory by default.
    nonfinite : {"raise", "skip"}, default="raise"
        What to do with cells whose input features are NaN or infinite: stop
        (every rank, naming cells), or zero their features and leave them out
        of every split (with a warning).
    laplacians : {"assembled", "factored", "auto"}, default="assembled"
        How up and down Laplacians (``up_laplacian_k``, ``down_laplacian_k``,
        and their ``scaled_`` versions) reach the model: the matrix itself, or
        the product of its two incidences applied one after the other (two
        one-hop halo exchanges instead of one over the two-hop halo; the
        product never stored), or each in the form that moves fewer bytes
        (:mod:`topodist.partition.product_forms`). A factored Laplacian can
        only be applied (``N @ x``, polynomial filters); layers that read its
        entries need it assembled. The choice is logged with the partition.
    """

    def __init__(
        self,
        source: str,
        neighborhoods: list[str] | None = None,
        partition: PartitionSettings | None = None,
        nonfinite: Literal["raise", "skip"] = "raise",
        laplacians: Literal["assembled", "factored", "auto"] = "assembled",
    ) -> None:
        super().__init__()
        if nonfinite not in ("raise", "skip"):
            raise ValueError(f"data.init_args.nonfinite={nonfinite!r}: choose 'raise' or 'skip'.")
        if laplacians not in PRODUCT_FORM_MODES:
            raise ValueError(
                f"data.init_args.laplacians={laplacians!r}: choose one of {', '.join(PRODUCT_FORM_MODES)}."
            )
        self.laplacians = laplacians
        self.product_forms: dict[str, ProductForm] = {}
        self.nonfinite = nonfinite
        self.source = source
        self.neighborhoods = list(neighborhoods or [])
        self.partition_settings = partition or PartitionSettings()
        self.complex: Complex | None = None
        self.shard: Shard | None = None

    def setup(self, stage: str | None = None) -> None:
        """Load the complex (once)."""
        if self.complex is not None:
            return
        try:
            self.complex = load_source(self.source)
        except (ValueError, FileNotFoundError) as error:
            raise ValueError(f"data.source={self.source!r}: {error}") from None

    def prepare_shards(self, neighborhoods: list[str], world_size: int) -> tuple[dict, bool]:
        """Write the shards a ``world_size``-rank training run of this data will read, without a process group.

        What rank 0 of that run would write (the same neighborhood list, method
        and seed) into ``partition.shard_dir``, so a CPU job can precompute them
        before a GPU job starts (``topodist shards``).

        Returns
        -------
        manifest : dict
        reused : bool
            Whether matching shards were already there.
        """
        if not self.partition_settings.shard_dir:
            raise ValueError("set data.init_args.partition.shard_dir: the directory the training ranks will read.")
        self.setup()
        self._resolve(neighborhoods)
        settings = self.partition_settings
        return prepare_shards(
            self.complex, settings.shard_dir, world_size, settings.method, self.partitioned_names(), settings.seed
        )

    def _resolve(self, neighborhoods: list[str]) -> None:
        """Add ``neighborhoods``, check the complex has them all, and choose each Laplacian's form."""
        self.neighborhoods = list(dict.fromkeys([*self.neighborhoods, *neighborhoods]))
        factorable = [name for name in self.neighborhoods if laplacian_factors(name) is not None]
        # a Laplacian that may be factored is not assembled just to be checked
        unchecked = [] if self.laplacians == "assembled" else factorable
        check_neighborhoods(self.complex, [n for n in self.neighborhoods if n not in unchecked], self.source)
        try:
            self.product_forms = choose_product_forms(self.complex, factorable, self.laplacians)
        except ValueError as error:
            raise ValueError(f"a neighborhood needed by the model is not available on data.source={self.source!r}: "
                             f"{error}") from None
        check_neighborhoods(self.complex, self.partitioned_names(), self.source)
        for form in self.product_forms.values():
            rank_zero_info(
                f"{form.name}: {form.form} ({form.factors[0]} @ {form.factors[1]} factored moves "
                f"{form.factored_bytes / 1e6:.1f} MB per product at 64 channels, assembled "
                f"{form.assembled_bytes / 1e6:.1f} MB; data.init_args.laplacians={self.laplacians})"
            )

    def partitioned_names(self) -> list[str]:
        """The neighborhoods partitioned: the model's, with each factored Laplacian replaced by its factors."""
        return matrices_to_partition(self.neighborhoods, self.product_forms)

    def neighborhood(self, name: str, partitioned=None):
        """A neighborhood of the whole complex (``partitioned=None``) or of this rank's part, in its chosen form.

        Parameters
        ----------
        name : str
        partitioned : PartitionedComplex, optional

        Returns
        -------
        torch.sparse, PartitionedNeighborhood or NeighborhoodChain
        """
        form = self.product_forms.get(name)
        if form is not None and form.form == "factored":
            if partitioned is not None:
                return partitioned.product(form.factors, form.scale)
            left, right = (self.complex.neighborhood(factor) for factor in form.factors)
            return NeighborhoodChain((left * form.scale if form.scale != 1.0 else left, right))
        return self.complex.neighborhood(name) if partitioned is None else partitioned.neighborhood(name)

    def partition(self, neighborhoods: list[str]) -> None:
        """Add ``neighborhoods`` to those partitioned and, with several ranks, take this rank's shard.

        Collective when the trainer runs several processes: every rank calls it.
        """
        self.setup()
        self._resolve(neighborhoods)
        world_size = self.trainer.world_size if self.trainer else 1
        rank = self.trainer.global_rank if self.trainer else 0
        if world_size == 1 and not dist.is_initialized():
            return
        settings = self.partition_settings
        if settings.shard_dir:
            # writing shards can take longer than the collective timeout: wait for rank 0 in a group of its own
            waiting = dist.new_group(backend="gloo", timeout=SHARD_WRITE_TIMEOUT)
            if rank == 0:
                prepare_shards(
                    self.complex, settings.shard_dir, world_size, settings.method, self.partitioned_names(),
                    settings.seed,
                )
            dist.barrier(group=waiting)
            dist.destroy_process_group(waiting)
            self.shard = load_shard(settings.shard_dir, rank, world_size=world_size, method=settings.method)
        else:
            names = self.partitioned_names()
            parts = assign_cells(self.complex, world_size, settings.method, names, settings.seed)
            self.shard = build_shards(self.complex, parts, names, world_size)[rank]

    def _loader(self) -> DataLoader:
        return one_item_loader(_OneStep())

    def train_dataloader(self) -> DataLoader:
        return self._loader()

    def val_dataloader(self) -> DataLoader:
        return self._loader()

    def test_dataloader(self) -> DataLoader:
        return self._loader()

    def predict_dataloader(self) -> DataLoader:
        return self._loader()

    def transfer_batch_to_device(self, batch, device: torch.device, dataloader_idx: int):
        return batch
