"""`set_random_seed`: one call that makes every random source of a program reproducible."""
import random as python_random

import numpy as np


def set_random_seed(seed):
    """Seed Python's `random`, NumPy's global generator and graphkit's global stream.

    Unseeded SeedGenerators (and the layers that make them) take their seed from Python's
    `random`, so they are reproducible too when created after this call.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"set_random_seed: expected `seed` to be an integer, received "
                         f"seed={seed!r} (of type {type(seed).__name__})")
    from graphkit.random.seed_generator import set_global_seed
    seed = int(seed)
    python_random.seed(seed)
    np.random.seed(seed % 2**32)
    set_global_seed(seed)
