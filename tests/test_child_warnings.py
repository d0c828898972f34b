"""Commands a test runs (``topodist``, SLURM jobs) run under the test's warning filters."""

import os
import subprocess
import sys

import pytest

from tests.child_warnings import with_warning_filters
from tests.training.test_cli import CONFIGS, CSV, topodist

WARNS = "import warnings; warnings.warn('tolerated here, an error in the suite')"


def python(env: dict, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)


def test_a_warning_in_a_started_interpreter_fails_it():
    plain = python(dict(os.environ), WARNS)
    assert plain.returncode == 0 and "UserWarning: tolerated here" in plain.stderr  # Python's default: printed
    filtered = python(with_warning_filters(), WARNS)
    assert filtered.returncode != 0
    assert "UserWarning: tolerated here, an error in the suite" in filtered.stderr


@pytest.mark.filterwarnings("ignore:tolerated here:UserWarning")
def test_a_test_that_ignores_a_warning_ignores_it_in_the_interpreters_it_starts():
    result = python(with_warning_filters(), WARNS)
    assert result.returncode == 0, result.stderr
    assert "tolerated" not in result.stderr


def test_a_lightning_warning_in_a_topodist_run_fails_it(tmp_path):
    # 2 steps, logged every 50: Lightning warns that the logging interval exceeds the training batches
    result = topodist(tmp_path, "fit", "--config", str(CONFIGS / "karate_hsn.yaml"), "--trainer.max_steps", "2",
                      "--trainer.log_every_n_steps", "50", *CSV)
    assert result.returncode != 0
    assert "log_every_n_steps=50" in result.stderr
