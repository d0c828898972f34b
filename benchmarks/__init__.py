"""topodist's benchmarks: each module prints a table; run one with ``python -m benchmarks.NAME``.

Results, machines and commands are recorded in BENCHMARKS.md; ``make bench``
runs the performance figures (kernels, zoo models, scaling, memory).
"""
