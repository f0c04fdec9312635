"""`python -m benchmarks [--quick] [--only W2,W6] [--peers numpy,jax]`."""
import sys

from benchmarks.run import main

sys.exit(main())
