"""Run a snippet in a fresh Python process with a minimal environment, and read what it printed last as JSON."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEPT_VARIABLES = ("PATH", "HOME", "PYTHONPATH", "VIRTUAL_ENV")


def run_python_json(code: str, *arguments: str, **environment: str):
    """``python -c code *arguments`` from the repository root; its last line of output, parsed as JSON.

    The process sees only :data:`KEPT_VARIABLES` of this environment, plus
    ``environment``; it must exit with status 0.
    """
    env = {key: value for key, value in os.environ.items() if key in KEPT_VARIABLES} | environment
    result = subprocess.run([sys.executable, "-c", code, *arguments], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])
