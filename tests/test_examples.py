"""The single-device example learns: it beats the best single-node guess."""

import re
import subprocess
import sys
from pathlib import Path

from tests.child_warnings import with_warning_filters

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_node_classification.py"


def test_node_classification_example_learns_from_neighbors():
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "--side", "30", "--epochs", "80"],
        env=with_warning_filters(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    node_only = float(re.search(r"feature's sign alone: ([\d.]+)", result.stdout).group(1))
    final_test = float(re.findall(r"test acc ([\d.]+)", result.stdout)[-1])
    assert final_test > node_only + 0.05, result.stdout
