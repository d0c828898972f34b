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


DESTROYED_BY_CALLER = textwrap.dedent(
    """
    import atexit, gc, os, tempfile
    import torch.distributed as dist
    from topodist.distributed.shutdown import release_process_group_at_exit
    atexit.register(lambda: print("exit hooks done", flush=True))  # runs last
    store = os.path.join(tempfile.mkdtemp(), "store")
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=0, world_size=1)
    release_process_group_at_exit()

    class Holder:  # e.g. a neighborhood and its transpose, holding the group's exchanger
        def __del__(self):
            print("cycle freed", flush=True)

    gc.disable()  # only an explicit collection frees the cycle
    holder = Holder()
    holder.itself, holder.group = holder, dist.group.WORLD
    del holder
    dist.destroy_process_group()  # as Lightning's teardown does
    """
)


def test_cycles_holding_a_group_the_caller_destroyed_are_freed_before_finalization():
    result = subprocess.run([sys.executable, "-c", DESTROYED_BY_CALLER], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["cycle freed", "exit hooks done"]
