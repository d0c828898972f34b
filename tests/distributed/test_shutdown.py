"""The default process group is destroyed at exit, before the exit hooks registered ahead of it run."""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import atexit, os, tempfile
    import torch.distributed as dist
    from topodist.distributed.shutdown import release_process_group_at_exit
    atexit.register(lambda: print("initialized at the end:", dist.is_initialized(), flush=True))  # runs last
    store = os.path.join(tempfile.mkdtemp(), "store")
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=0, world_size=1)
    release_process_group_at_exit()
    release_process_group_at_exit()  # a second call is harmless
    print("initialized while running:", dist.is_initialized(), flush=True)
    """
)


def test_the_group_is_gone_when_the_interpreter_exits():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["initialized while running: True", "initialized at the end: False"]
