"""The starting test's warning filters in the Python processes it runs as commands.

The suite makes warnings errors (``filterwarnings`` in pyproject.toml, plus a
test's marks), but a ``topodist`` command, a SLURM job or another interpreter a
test starts would print its warnings and exit 0. :func:`with_warning_filters`
adds to an environment the filters of the calling test, pickled, and a
directory whose ``sitecustomize`` installs them when the interpreter starts, so
a warning there fails the command as it would fail the test. Processes those
commands start inherit the environment (Lightning's ``ddp`` ranks) or the
filters themselves (forked ranks).
"""

import base64
import os
import pickle
import warnings
from pathlib import Path

__all__ = ["FILTERS_ENV", "SITE_DIRECTORY", "with_warning_filters"]

FILTERS_ENV = "TOPODIST_TEST_WARNING_FILTERS"
SITE_DIRECTORY = Path(__file__).resolve().parent / "interpreter_start"


def with_warning_filters(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` plus this process's current warning filters for the interpreters started with it.

    Parameters
    ----------
    env : dict of str to str, optional
        The environment a command will run with; not modified. This process's
        environment when omitted.

    Returns
    -------
    dict of str to str
        A copy with the pickled filters in ``TOPODIST_TEST_WARNING_FILTERS`` and
        :data:`SITE_DIRECTORY` first on ``PYTHONPATH``.
    """
    env = dict(os.environ) if env is None else env
    path = [str(SITE_DIRECTORY), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    return env | {
        FILTERS_ENV: base64.b64encode(pickle.dumps(list(warnings.filters))).decode("ascii"),
        "PYTHONPATH": os.pathsep.join(path),
    }
