"""Training on a GPU follows the CPU run step for step (skipped without CUDA).

The inputs of a cell task live outside Lightning's batches, so the module must
place them on the trainer's device itself; under DDP with NCCL its collectives
(global sums, the timings' gathers) must use GPU tensors. Complex-level batches
move with Lightning's batch transfer and their tallies must follow.
"""

from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from tests.training.fitting import fit_metrics
from tests.training.node_model import NodeEdgeNode
from topodist.nn.simplicial.hsn import HSN
from topodist.training import CellClassification, ComplexClassification, ComplexDatasetData, PartitionedComplexData
from topodist.training.heads import ComplexClassifier

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

STEPS = 5


def cell_task():
    module = CellClassification(NodeEdgeNode(in_channels=2), rank=0, lr=0.05)
    return module, PartitionedComplexData("torus:12x8")


def complex_task():
    backbone = HSN(channels=8, n_layers=2)
    network = ComplexClassifier(backbone, ["x_0", "incidence_1", "adjacency_0"], {0: 3}, 8, 2)
    return ComplexClassification(network, lr=0.01), ComplexDatasetData("genus:24", batch_size=8)


def losses(task, accelerator: str, strategy: str, save_dir: Path) -> list[float]:
    pl.seed_everything(0, workers=True)
    module, data = task()
    try:
        rows = fit_metrics(module, data, save_dir, STEPS, accelerator=accelerator, devices=1, strategy=strategy,
                           inference_mode=False)
    finally:
        # Lightning's DDP leaves its process group behind: the next run in this process would log and reduce as if
        # it were distributed
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    return [float(row["train/loss"]) for row in rows if row.get("train/loss")]


# Lightning remarks that the reference run trains on the CPU of a machine with a GPU, and, on a machine of
# many cores, that the loaders have few workers; torch 2.11 (CUDA builds of which GPU machines carry) warns,
# once a process, that sparse invariant checks are implicitly disabled whenever a sparse tensor is built (even
# with check_invariants given) unless the application opts in or out, and that Lightning 2.6 sets DDP up on a side
# stream (its issue 21567): none of these matters to the losses compared
@pytest.mark.filterwarnings("ignore:GPU available but not used:UserWarning")
@pytest.mark.filterwarnings("ignore:The '.*dataloader' does not have many workers")
@pytest.mark.filterwarnings("ignore:Sparse invariant checks are implicitly disabled:UserWarning")
@pytest.mark.filterwarnings("ignore:The AccumulateGrad node's stream does not match:UserWarning")
@pytest.mark.parametrize("task", [cell_task, complex_task], ids=["cells", "complexes"])
@pytest.mark.parametrize("strategy", ["auto", "ddp"])
def test_gpu_losses_equal_the_cpu_run(tmp_path, task, strategy):
    on_cpu = losses(task, "cpu", "auto", tmp_path / "cpu")
    on_gpu = losses(task, "gpu", strategy, tmp_path / "gpu")
    assert len(on_cpu) == len(on_gpu) == STEPS
    for cpu, gpu in zip(on_cpu, on_gpu, strict=True):
        assert abs(cpu - gpu) <= 1e-4 * abs(cpu)
