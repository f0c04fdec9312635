"""`gk.random`: seeded random numbers from a counter-based Philox generator.

`seed=` is an int (a fixed key: the same numbers every call), a `SeedGenerator` (a stream
that advances on each draw), a uint32 key tensor of shape (2,), or None (the global stream,
reseeded by `gk.utils.set_random_seed`).
"""
from graphkit.random.distributions import (beta, binomial, categorical, gamma, normal,
                                           randint, truncated_normal, uniform)
from graphkit.random.seed_generator import (SeedGenerator, draw_key, global_seed_generator,
                                            make_default_seed)
from graphkit.random.transforms import dropout, shuffle
