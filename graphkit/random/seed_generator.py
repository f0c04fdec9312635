"""`SeedGenerator`: the state of a random stream, kept in a non-trainable variable.

A random op never owns hidden state. It asks for a *key* (a uint32 tensor of shape (2,))
and hands it to the counter-based Philox primitive. Where the key comes from:
- an int seed: the fixed key `[seed, 0]`, so the op gives the same numbers every call
  (Keras's stateless seeding);
- a SeedGenerator: its state `[seed, counter]`, after which the counter is advanced with
  `Variable.assign`. Inside a trace the read is a graph input and the assign a graph output,
  so compiled code advances the same stream as eager code;
- None: the global SeedGenerator (`set_random_seed` reseeds it);
- a uint32 tensor of shape (2,): used as the key as it is (for stateless code that threads
  keys through by hand).
"""
import random as python_random

import numpy as np

from graphkit import naming
from graphkit.core.variable import Variable
from graphkit.ops import add, convert_to_tensor

SEED_DTYPE = "uint32"
_GLOBAL = {"generator": None}


def make_default_seed():
    """A seed for generators created without one. Python's `random` draws it, so that
    `set_random_seed` makes unseeded generators reproducible too (as in Keras)."""
    return python_random.randint(1, int(1e9))


def _check_seed(seed, where):
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"{where}: `seed` must be an integer, received seed={seed!r} "
                         f"(of type {type(seed).__name__})")
    return int(seed) % 2**32  # the key holds 32 bits; negative seeds wrap around


class SeedGenerator:
    """A random stream whose state `[seed, counter]` is a non-trainable uint32 variable."""

    def __init__(self, seed=None, name=None, **kwargs):
        if kwargs:
            raise ValueError(f"SeedGenerator: unrecognized keyword arguments: {sorted(kwargs)}")
        self.name = name or naming.auto_name(type(self).__name__)
        self._initial_seed = seed
        if seed is None:
            seed = make_default_seed()
        seed = _check_seed(seed, "SeedGenerator")
        with naming.name_scope(self.name):
            self.state = Variable(np.array([seed, 0], dtype=SEED_DTYPE), shape=(2,),
                                  dtype=SEED_DTYPE, trainable=False,
                                  name="seed_generator_state")

    def next(self, ordered=True):
        """The key for one draw; advances the counter (a Variable assign, seen by traces).

        `ordered` is accepted for Keras compatibility; the counter always steps by one.
        """
        key = self.state.value
        self.state.assign(add(key, np.array([0, 1], dtype=SEED_DTYPE)))
        return key

    def save_own_variables(self, store):
        """The stream position is saved with the model, so that training resumes the same
        random stream (dropout masks) after `load_model`."""
        store["0"] = self.state.numpy()

    def load_own_variables(self, store):
        value = np.asarray(store["0"])
        if value.shape != (2,):
            raise ValueError(f"SeedGenerator '{self.name}': the saved state must have shape "
                             f"(2,), received shape {value.shape}")
        self.state.assign(value.astype(SEED_DTYPE))

    def get_config(self):
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<SeedGenerator name={self.name} state={self.state.numpy().tolist()}>"


def _make_global_generator(seed):
    gen = SeedGenerator(seed=seed, name="global_seed_generator")
    gen.state.path = "global_seed_generator/seed_generator_state"  # owned by no layer
    _GLOBAL["generator"] = gen
    return gen


def global_seed_generator():
    """The generator behind `seed=None`, created on first use."""
    return _GLOBAL["generator"] or _make_global_generator(None)


def set_global_seed(seed):
    """Restart the global stream at `[seed, 0]`, keeping the same variable (so traced
    functions that captured it follow the new seed)."""
    seed = _check_seed(seed, "set_random_seed")
    gen = _GLOBAL["generator"]
    if gen is None:  # created with the seed, not from Python's freshly seeded `random`
        _make_global_generator(seed)
        return
    gen.state.assign(np.array([seed, 0], dtype=SEED_DTYPE))
    gen._initial_seed = seed


def draw_key(seed, where="random"):
    """The uint32 key of shape (2,) for one draw, from any accepted `seed` (module doc)."""
    if isinstance(seed, SeedGenerator):
        return seed.next()
    if seed is None:
        return global_seed_generator().next()
    if hasattr(type(seed), "_bind_priority"):  # an explicit key tensor
        if seed.dtype != SEED_DTYPE or tuple(seed.shape) != (2,):
            raise ValueError(f"{where}: a tensor `seed` must be a uint32 key of shape (2,), "
                             f"received {seed.dtype}{list(seed.shape)}")
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
        return convert_to_tensor(np.array([_check_seed(seed, where), 0], dtype=SEED_DTYPE))
    raise ValueError(
        f"{where}: `seed` must be an int, a gk.random.SeedGenerator, a uint32 key tensor of "
        f"shape (2,) or None, received seed={seed!r} (of type {type(seed).__name__})")
