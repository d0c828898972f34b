"""topodist's benchmarks: each module prints a table; run one with ``python -m benchmarks.NAME``.

Results, machines and commands are recorded in BENCHMARKS.md; ``make bench``
runs the performance figures (kernels, zoo models, scaling, memory).
"""

from topodist.ops.openmp import spin_briefly

spin_briefly()  # before a benchmark module imports torch: OpenMP reads it when it loads
