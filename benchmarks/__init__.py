"""graphkit's benchmark suite: `python -m benchmarks [--quick] [--only W2,W6]`.

The workloads, peers and targets are defined in the project's BENCHMARKS document; the
method is described in `benchmarks/README.md`.

Importing this package pins every thread pool to the same count before NumPy (or any peer)
is imported, so that every peer uses both cores the same way.
"""
from benchmarks.environment import pin_threads

pin_threads()
