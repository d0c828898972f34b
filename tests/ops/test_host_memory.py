"""glibc keeps the memory a step frees once topodist is imported, unless the environment chose otherwise."""

import os
import sys

import pytest

from tests.python_subprocess import run_python_json
from topodist.ops.host_memory import ENVIRONMENT_VARIABLE, keep_freed_memory, user_chose_allocator

GLIBC_ONLY = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"),
    reason="glibc's malloc only",
)

# In a fresh process (glibc's dynamic mmap threshold still at 128 KiB): where a 20 MiB tensor comes from, and what
# the heap holds after ten of them are freed. mallinfo2: arena (heap bytes), hblkhd (bytes in mmapped blocks).
HEAP = """
import ctypes, json
import torch
IMPORT
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = MallInfo2
before = mallinfo2().hblkhd
one = torch.ones(5 * 2**20)
mapped = mallinfo2().hblkhd - before
del one
blocks = [torch.ones(5 * 2**20) for _ in range(10)]
del blocks
print(json.dumps({"mapped": mapped, "heap_after_free": mallinfo2().arena}))
"""

# A step's pattern of 30 and 10 MiB temporaries, forty times: page faults per round.
STEPS = """
import json, resource
import torch
IMPORT
def step():
    x, y = torch.ones(30 * 2**18), torch.ones(10 * 2**18)
    for _ in range(3):
        z = torch.sigmoid(x)
        w = y + 1
        x = z * 2
faults = []
for _ in range(40):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    step()
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps(faults))
"""


def run_python(code: str, imports_topodist: bool, **environment: str):
    return run_python_json(code.replace("IMPORT", "import topodist" if imports_topodist else ""), **environment)


@GLIBC_ONLY
def test_import_topodist_serves_tensors_up_to_32_mib_from_the_heap_and_keeps_them_when_freed():
    assert run_python(HEAP, imports_topodist=False)["mapped"] >= 20 * 2**20  # glibc's defaults map it
    kept = run_python(HEAP, imports_topodist=True)
    assert kept["mapped"] == 0
    assert kept["heap_after_free"] >= 200 * 2**20  # kept, not trimmed
    assert run_python(HEAP, imports_topodist=True, **{ENVIRONMENT_VARIABLE: "release"})["mapped"] >= 20 * 2**20
    # the user's own setting wins
    assert run_python(HEAP, imports_topodist=True, GLIBC_TUNABLES="glibc.malloc.mmap_threshold=1048576")["mapped"] > 0


@GLIBC_ONLY
def test_after_import_topodist_repeated_steps_stop_faulting_their_temporaries_in():
    """glibc's defaults trim and fault the temporaries in again in most rounds; kept, only the heap's growth faults.

    The heap still grows now and then, as its holes fit the next round's blocks
    less and less (5-7 of 39 rounds here, 20-39 with glibc's defaults).
    """
    kept = run_python(STEPS, imports_topodist=True)
    released = run_python(STEPS, imports_topodist=True, **{ENVIRONMENT_VARIABLE: "release"})
    assert kept[0] > 10_000 and released[0] > 10_000  # the first step maps its memory
    assert sum(kept[1:]) * 4 < sum(released[1:])


def test_the_environment_s_own_allocator_settings_are_left_alone():
    assert not user_chose_allocator({})
    assert not user_chose_allocator({"GLIBC_TUNABLES": "glibc.pthread.rseq=0", "LD_PRELOAD": "libfoo.so",
                                     "MALLOC_ARENA_MAX": "2"})
    for chosen in ({"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=1073741824"}, {"MALLOC_TRIM_THRESHOLD_": "1"},
                   {"LD_PRELOAD": "/usr/lib/libjemalloc.so.2"},
                   {"LD_PRELOAD": "libtcmalloc_minimal.so.4"}):
        assert user_chose_allocator(chosen), chosen
        assert not keep_freed_memory(chosen)
    assert not keep_freed_memory({ENVIRONMENT_VARIABLE: "release"})


def test_an_unknown_choice_is_named():
    with pytest.raises(ValueError, match="TOPODIST_HOST_MEMORY='forever'"):
        keep_freed_memory({ENVIRONMENT_VARIABLE: "forever"})


def test_without_reachable_libc_symbols_import_goes_on_and_malloc_is_left_as_it_is(monkeypatch):
    import ctypes

    def no_symbols(name):
        raise OSError(f"{name}: cannot open shared object")

    monkeypatch.setattr(ctypes, "CDLL", no_symbols)
    assert not keep_freed_memory({})
