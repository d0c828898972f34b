"""The compiled CSR kernel: what it leaves behind for other processes."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Both dtypes, as the ranks of one job (float32) and a float64 check beside it would compile them.
BOTH_DTYPES = """
import torch
from topodist.ops import csr_kernel
crow, col = torch.tensor([0, 1, 2]), torch.tensor([1, 0])
for dtype in (torch.float32, torch.float64):
    x = torch.arange(6, dtype=dtype).reshape(2, 3)
    assert torch.equal(csr_kernel.csr_matmul(crow, col, torch.ones(2, dtype=dtype), x), x.flip(0))
"""


def test_kernel_writes_no_cache_another_process_could_read_half_written(tmp_path):
    # numba's on-disk cache names a code file in its index before writing it: a rank reading the
    # index meanwhile loads the other dtype's code and fails ("can't unbox array")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", BOTH_DTYPES], cwd=ROOT, env=env, check=True, timeout=120)
    assert [path.name for path in tmp_path.rglob("*") if path.is_file()] == []
