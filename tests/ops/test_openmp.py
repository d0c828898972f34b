"""OpenMP's spin count: set by the entry points before torch loads, never over the user's own setting."""

import json
import os
import subprocess
import sys
from pathlib import Path

from topodist.ops.openmp import SPIN_COUNT, spin_briefly

ROOT = Path(__file__).resolve().parents[2]

# Prints GOMP_SPINCOUNT as it was when torch started loading, then runs CODE.
WHEN_TORCH_LOADS = """
import json, os, sys
seen = []
def hook(event, arguments):
    if event == "import" and arguments[0] == "torch" and not seen:
        seen.append(os.environ.get("GOMP_SPINCOUNT"))
sys.addaudithook(hook)
CODE
print(json.dumps(seen))
"""


def spin_count_when_torch_loads(code: str, **environment: str) -> str | None:
    env = {key: value for key, value in os.environ.items() if key not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    result = subprocess.run([sys.executable, "-c", WHEN_TORCH_LOADS.replace("CODE", code)], cwd=ROOT,
                            env=env | environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.splitlines()[-1])
    assert len(seen) == 1, "torch was not imported"
    return seen[0]


def test_spin_briefly_sets_the_count_only_where_the_environment_says_nothing():
    environ = {}
    assert spin_briefly(environ) and environ == {"GOMP_SPINCOUNT": SPIN_COUNT}
    for own in ({"GOMP_SPINCOUNT": "300000"}, {"OMP_WAIT_POLICY": "ACTIVE"}):
        environ = dict(own)
        assert not spin_briefly(environ) and environ == own


def test_the_command_sets_the_count_before_torch_loads():
    code = "from topodist.cli import main\nmain(['inspect', 'torus:4x4'])"
    assert spin_count_when_torch_loads(code) == SPIN_COUNT
    assert spin_count_when_torch_loads(code, GOMP_SPINCOUNT="250") == "250"


def test_benchmarks_set_the_count_before_torch_loads():
    assert spin_count_when_torch_loads("import benchmarks.zoo_cases") == SPIN_COUNT


def test_importing_topodist_loads_torch_only_with_the_base_classes():
    code = ("import sys, topodist\nassert 'torch' not in sys.modules\n"
            "from topodist.base.conv import Conv\nassert topodist.Conv is Conv and 'Conv' in dir(topodist)\n"
            "try:\n    topodist.Missing\nexcept AttributeError:\n    pass\nelse:\n    raise SystemExit(1)")
    assert spin_count_when_torch_loads(code) is None  # plain ``import topodist`` sets nothing
