"""Block-diagonal batches of small complexes and the global-batch sampler."""

import numpy as np
import pytest
import torch

from topodist.data.datasets import mesh_genus_dataset
from topodist.training.complex_data import GlobalBatchSampler, collate_complexes


def test_a_batch_is_the_block_diagonal_complex():
    complexes = mesh_genus_dataset(3)
    batch = collate_complexes(complexes, ["incidence_1", "adjacency_0"])
    offsets = np.cumsum([0] + [c.n_cells[0] for c in complexes])
    edge_offsets = np.cumsum([0] + [c.n_cells[1] for c in complexes])
    dense = batch.neighborhoods["incidence_1"].to_dense()
    for i, c in enumerate(complexes):
        block = dense[offsets[i] : offsets[i + 1], edge_offsets[i] : edge_offsets[i + 1]]
        assert torch.equal(block, torch.from_numpy(c.matrix("incidence_1").toarray()).float())
        assert torch.equal(batch.x[0][offsets[i] : offsets[i + 1]], c.features[0].float())
    assert dense.abs().sum() == sum(c.matrix("incidence_1").nnz for c in complexes)  # nothing off the blocks
    assert batch.batch[0].tolist() == sum(([i] * c.n_cells[0] for i, c in enumerate(complexes)), [])
    assert batch.labels.tolist() == [c.complex_label for c in complexes] and batch.n_complexes == 3


@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_ranks_share_each_global_batch(world_size):
    samplers = [GlobalBatchSampler(23, 8, world_size, rank, shuffle=True, seed=4) for rank in range(world_size)]
    single = GlobalBatchSampler(23, 8, 1, 0, shuffle=True, seed=4)
    for epoch in (0, 1):
        for sampler in [*samplers, single]:
            sampler.set_epoch(epoch)
        shares = [list(sampler) for sampler in samplers]
        assert len({len(share) for share in shares}) == 1  # every rank takes as many steps
        for step, whole in enumerate(single):
            assert sorted(sum((share[step] for share in shares), [])) == sorted(whole)
    first, second = (list(GlobalBatchSampler(23, 8, 1, 0, True, 4)) for _ in range(2))
    assert first == second
    reshuffled = GlobalBatchSampler(23, 8, 1, 0, True, 4)
    reshuffled.set_epoch(1)
    assert list(reshuffled) != first
