"""The topodist command starts again under mimalloc, once, unless the environment chose another allocator."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import topodist.cli
from tests.python_subprocess import ROOT, run_python_json
from topodist.ops.host_memory import ENVIRONMENT_VARIABLE
from topodist.ops.mimalloc import library_path, run_under_mimalloc

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="preloading an allocator is Linux's")

# What the process that calls run_under_mimalloc ends up as: its allocator, arguments, environment, pid count.
RESTART = """
import json, os, sys
os.environ["RUNS"] = os.environ.get("RUNS", "") + "x"  # counts the starts of this code, carried across exec
from topodist.ops.mimalloc import run_under_mimalloc
run_under_mimalloc()
with open("/proc/self/maps") as maps:
    mapped = "libmimalloc" in maps.read()
print(json.dumps({"mapped": mapped, "argv": sys.argv[1:], "runs": os.environ["RUNS"],
                  "preload": os.environ.get("LD_PRELOAD", ""), "kept": os.environ.get("KEPT")}))
"""


def run_restart(*arguments: str, **environment: str) -> dict:
    return run_python_json(RESTART, *arguments, **environment)


def test_the_library_is_installed_with_topodist():
    path = library_path()
    assert path is not None and path.is_file() and path.name == "libmimalloc.so"


def test_a_process_starts_again_once_under_mimalloc_with_its_arguments_and_environment():
    outcome = run_restart("--flag", "a b", KEPT="yes")
    assert outcome["mapped"]
    assert outcome["argv"] == ["--flag", "a b"] and outcome["kept"] == "yes"
    assert outcome["runs"] == "xx"  # the first start, and the one under mimalloc: no third
    assert outcome["preload"].split() == [str(library_path())]


def test_a_preload_the_user_set_is_kept_beside_it():
    """Another library in LD_PRELOAD (not an allocator) stays, after mimalloc."""
    other = next(Path(sys.base_prefix).glob("lib/libpython3*.so*"), None)
    if other is None:
        pytest.skip("no shared libpython to preload")
    outcome = run_restart(LD_PRELOAD=str(other))
    assert outcome["mapped"] and outcome["preload"].split() == [str(library_path()), str(other)]


@pytest.mark.parametrize("environment", [
    {ENVIRONMENT_VARIABLE: "keep"},
    {ENVIRONMENT_VARIABLE: "release"},
    {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=4294967295"},
    {"MALLOC_MMAP_THRESHOLD_": "1048576"},
])
def test_the_environment_s_choice_stays_with_glibc(environment):
    outcome = run_restart(**environment)
    assert not outcome["mapped"] and outcome["runs"] == "x" and outcome["preload"] == ""


def test_an_unknown_choice_is_named():
    with pytest.raises(ValueError, match="TOPODIST_HOST_MEMORY='forever'"):
        run_under_mimalloc({ENVIRONMENT_VARIABLE: "forever"})


def test_the_command_line_starts_under_mimalloc_and_a_call_in_a_process_does_not(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(topodist.cli, "run_under_mimalloc", lambda: calls.append(1))
    monkeypatch.setattr(sys, "argv", ["topodist", "inspect", "torus:4x3"])
    assert topodist.cli.main() == 0 and calls == [1]
    assert topodist.cli.main(["inspect", "torus:4x3"]) == 0 and calls == [1]
    assert "torus-4x3" in capsys.readouterr().out


def test_the_command_names_an_unknown_choice():
    """``import topodist`` reads the choice first (topodist.ops.host_memory) and stops the command, naming it."""
    result = subprocess.run([sys.executable, "-m", "topodist.cli", "inspect", "torus:4x3"], cwd=ROOT,
                            env=os.environ | {ENVIRONMENT_VARIABLE: "forever"}, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0 and result.stdout == ""
    assert "TOPODIST_HOST_MEMORY='forever' is not one of" in result.stderr


def test_the_module_prints_the_library_for_a_shell_to_preload():
    result = subprocess.run([sys.executable, "-m", "topodist.ops.mimalloc"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, check=True)
    assert result.stdout.strip() == str(library_path())
