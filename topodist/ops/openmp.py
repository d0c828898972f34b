"""How long torch's OpenMP threads spin after a parallel op: briefly, unless the environment says otherwise.

The CSR kernel (:mod:`topodist.ops.csr_kernel`) runs row blocks on threads of
its own, beside torch's OpenMP threads. GNU OpenMP, which torch's CPU builds
for Linux use, keeps each of its threads spinning for ``GOMP_SPINCOUNT``
iterations (300,000 by default) after every parallel op before it sleeps: on
the 2-core machine of BENCHMARKS.md that holds a core for milliseconds, and a
kernel thread sharing that core runs at a fraction of its speed. In HSN's
forward + backward on a 200 x 200 torus the products took about 80 ms, 25 ms
when run alone, 50 ms with the count below (BENCHMARKS.md, zoo models). With
a count of 10,000 the threads still catch back-to-back ops (small complexes
run as fast as before) and give their cores up soon after.

OpenMP reads the variable once, when it loads (with torch), so only the
entry points that own their process set it before anything imports torch:
the ``topodist`` command and ``python -m benchmarks.NAME``. A script that
imports torch itself can export ``GOMP_SPINCOUNT=10000`` in its shell. A value
already set, or an ``OMP_WAIT_POLICY``, is left as it is.
"""

import os
from collections.abc import MutableMapping

__all__ = ["SPIN_COUNT", "spin_briefly"]

SPIN_COUNT = "10000"


def spin_briefly(environ: MutableMapping[str, str] = os.environ) -> bool:
    """Set ``GOMP_SPINCOUNT`` to :data:`SPIN_COUNT` unless it or ``OMP_WAIT_POLICY`` is set already.

    Effective in this process only if called before torch is imported;
    processes started from it (spawned ranks) inherit it either way.

    Parameters
    ----------
    environ : MutableMapping[str, str], default=os.environ
        The environment to update.

    Returns
    -------
    bool
        Whether it set the variable.
    """
    if "GOMP_SPINCOUNT" in environ or "OMP_WAIT_POLICY" in environ:
        return False
    environ["GOMP_SPINCOUNT"] = SPIN_COUNT
    return True
