"""scipy <-> torch sparse conversions."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from topodist.data.sparse import as_csr, binary, to_torch_sparse


def test_to_torch_sparse_keeps_duplicates_summed():
    matrix = sp.coo_array((np.array([1.0, 2.0, 3.0]), (np.array([0, 0, 1]), np.array([1, 1, 0]))), shape=(2, 2))
    assert torch.equal(to_torch_sparse(matrix).to_dense(), torch.tensor([[0.0, 3.0], [3.0, 0.0]]))


@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_to_torch_sparse_layouts_and_int64_indices(layout):
    matrix = sp.random_array((7, 5), density=0.4, random_state=0, format="csr")
    tensor = to_torch_sparse(matrix, layout, torch.float64)
    indices = tensor.indices() if layout == "coo" else tensor.col_indices()
    assert indices.dtype == torch.int64 and tensor.dtype == torch.float64
    assert np.array_equal(tensor.to_dense().numpy(), matrix.toarray())


def test_as_csr_drops_stored_zeros_and_binary_keeps_the_pattern():
    matrix = sp.csr_array((np.array([0.0, -2.0, 5.0]), np.array([0, 1, 1]), np.array([0, 2, 3])), shape=(2, 2))
    canonical = as_csr(matrix)
    assert canonical.nnz == 2 and canonical.dtype == np.float64
    assert np.array_equal(binary(canonical).toarray(), [[0.0, 1.0], [0.0, 1.0]])


@pytest.mark.parametrize("layout", ["coo", "csr"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_to_torch_sparse_shares_no_memory_with_a_read_only_matrix(layout, dtype):
    # as a memory-mapped saved complex gives them: read-only views of the file's arrays
    data = np.array([1.0, -2.0, 5.0])
    view = data.view()
    view.setflags(write=False)
    matrix = sp.csr_array((view, np.array([0, 1, 1]), np.array([0, 2, 3])), shape=(2, 2))
    tensor = to_torch_sparse(matrix, layout, dtype)
    values = tensor.values()
    values.add_(1.0)  # a tensor on the read-only memory would write into it (or fault, on a read-only mapping)
    assert np.array_equal(data, [1.0, -2.0, 5.0])
    assert values.tolist() == [2.0, -1.0, 6.0]
