"""The ranks a test spawns run under that test's warning filters, as its own process does."""

import warnings

import pytest
from torch.multiprocessing import ProcessRaisedException

from tests.distributed.harness import run_on_ranks


def warn_on_rank_1(rank, world_size):
    if rank == 1:
        warnings.warn("a warning on rank 1", UserWarning, stacklevel=1)


def test_a_warning_on_a_rank_fails_the_test():
    with pytest.raises(ProcessRaisedException, match="UserWarning: a warning on rank 1"):
        run_on_ranks(warn_on_rank_1, 2)


@pytest.mark.filterwarnings("ignore:a warning on rank 1:UserWarning")
def test_a_warning_the_test_ignores_is_ignored_on_its_ranks():
    run_on_ranks(warn_on_rank_1, 2)
