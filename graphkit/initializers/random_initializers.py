"""Initializers that draw random numbers, with Keras 3's defaults and variance formulas.

`seed` may be an int (the initializer returns the same values on every call), a
`gk.random.SeedGenerator` (each call advances it), or None: as in Keras 3, the initializer
then fixes an int seed of its own when it is made (drawn from Python's `random`, so
`gk.utils.set_random_seed` makes it reproducible). An unseeded instance therefore returns
the same values on every call, and two unseeded instances differ.
"""
import math

import numpy as np

from graphkit import dtypes, ops
from graphkit import random as gk_random
from graphkit.initializers.initializer import Initializer, normalize_shape


def compute_fans(shape, input_axes=None, output_axes=None):
    """(fan_in, fan_out) as Keras computes them: with `input_axes` and `output_axes`, the
    products of those dims (an einsum kernel's); else dense kernels are (in, out), conv
    kernels (*kernel_size, in_channels, out_channels) with the receptive field multiplied in."""
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return (int(math.prod(shape[a] for a in input_axes)),
                int(math.prod(shape[a] for a in output_axes)))
    if len(shape) < 1:  # a scalar
        return 1, 1
    if len(shape) == 1:
        return int(shape[0]), int(shape[0])
    if len(shape) == 2:
        return int(shape[0]), int(shape[1])
    receptive_field = math.prod(shape[:-2])
    return int(shape[-2] * receptive_field), int(shape[-1] * receptive_field)


def _check_seed(seed, who):
    if isinstance(seed, dict):  # a serialized SeedGenerator
        return gk_random.SeedGenerator.from_config(seed.get("config", seed))
    if seed is None or isinstance(seed, gk_random.SeedGenerator):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return int(seed)
    raise ValueError(f"{who}: `seed` must be an int, a gk.random.SeedGenerator or None, "
                     f"received seed={seed!r} (of type {type(seed).__name__})")


class RandomInitializer(Initializer):
    def __init__(self, seed=None):
        self._init_seed = _check_seed(seed, type(self).__name__)
        # Keras's semantics: unseeded means a default int seed, drawn now (the config
        # keeps None, so a copy made from it draws a seed of its own).
        self.seed = gk_random.make_default_seed() if self._init_seed is None \
            else self._init_seed

    def _seed_config(self):
        if isinstance(self._init_seed, gk_random.SeedGenerator):
            return {"class_name": "SeedGenerator", "config": self._init_seed.get_config()}
        return self._init_seed

    def get_config(self):
        return {"seed": self._seed_config()}

    def _float_dtype(self, dtype):
        dtype = dtypes.standardize_dtype(dtype)
        if not dtypes.is_float(dtype):
            raise ValueError(f"{type(self).__name__}: only float dtypes are supported, "
                             f"received dtype={dtype!r}")
        return dtype


class RandomNormal(RandomInitializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = mean, stddev
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        return gk_random.normal(normalize_shape(shape, "RandomNormal"), mean=self.mean,
                                stddev=self.stddev, dtype=self._float_dtype(dtype),
                                seed=self.seed)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class TruncatedNormal(RandomInitializer):
    """Normal values more than two standard deviations from the mean are redrawn."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = mean, stddev
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        return gk_random.truncated_normal(normalize_shape(shape, "TruncatedNormal"),
                                          mean=self.mean, stddev=self.stddev,
                                          dtype=self._float_dtype(dtype), seed=self.seed)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class RandomUniform(RandomInitializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval = minval, maxval
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        return gk_random.uniform(normalize_shape(shape, "RandomUniform"), minval=self.minval,
                                 maxval=self.maxval, dtype=self._float_dtype(dtype),
                                 seed=self.seed)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


# The stddev of a unit normal truncated to [-2, 2]; dividing by it restores the target variance.
_TRUNCATED_NORMAL_STDDEV = 0.87962566103423978
_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("uniform", "truncated_normal", "untruncated_normal")


class VarianceScaling(RandomInitializer):
    """Samples with variance `scale / n`, n the fan-in, the fan-out or their average."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        if not isinstance(scale, (int, float)) or scale <= 0:
            raise ValueError(f"VarianceScaling: `scale` must be a positive float, "
                             f"received scale={scale!r}")
        mode = str(mode).lower()
        if mode not in _MODES:
            raise ValueError(f"VarianceScaling: invalid `mode` {mode!r}, expected one of "
                             f"{', '.join(_MODES)}")
        distribution = str(distribution).lower()
        if distribution == "normal":  # Keras's legacy name
            distribution = "truncated_normal"
        if distribution not in _DISTRIBUTIONS:
            raise ValueError(f"VarianceScaling: invalid `distribution` {distribution!r}, "
                             f"expected one of {', '.join(_DISTRIBUTIONS)}")
        self.scale, self.mode, self.distribution = scale, mode, distribution
        # Keras 3.15's: the axes of the weight that count in the fan-in and the fan-out.
        self.input_axes, self.output_axes = input_axes, output_axes
        super().__init__(seed)

    def variance(self, shape):
        """The target variance of the samples for a weight of `shape`."""
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}
        return self.scale / max(1.0, n[self.mode])

    def __call__(self, shape, dtype=None):
        shape = normalize_shape(shape, type(self).__name__)
        dtype = self._float_dtype(dtype)
        variance = self.variance(shape)
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(variance) / _TRUNCATED_NORMAL_STDDEV
            return gk_random.truncated_normal(shape, 0.0, stddev, dtype=dtype, seed=self.seed)
        if self.distribution == "untruncated_normal":
            return gk_random.normal(shape, 0.0, math.sqrt(variance), dtype=dtype,
                                    seed=self.seed)
        limit = math.sqrt(3.0 * variance)
        return gk_random.uniform(shape, -limit, limit, dtype=dtype, seed=self.seed)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                **super().get_config(), **self._axes_config()}

    def _axes_config(self):
        return {"input_axes": self.input_axes, "output_axes": self.output_axes}


def _preset(name, scale, mode, distribution, doc):
    """A VarianceScaling subclass with fixed arguments; only `seed` and the fan axes are
    configurable."""

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        VarianceScaling.__init__(self, scale=scale, mode=mode, distribution=distribution,
                                 seed=seed, input_axes=input_axes, output_axes=output_axes)

    def get_config(self):
        return {"seed": self._seed_config(), **self._axes_config()}

    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                           "__doc__": doc, "__module__": __name__})


GlorotUniform = _preset("GlorotUniform", 1.0, "fan_avg", "uniform",
                        "Uniform in [-limit, limit], limit = sqrt(6 / (fan_in + fan_out)).")
GlorotNormal = _preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal",
                       "Truncated normal, stddev = sqrt(2 / (fan_in + fan_out)).")
LecunUniform = _preset("LecunUniform", 1.0, "fan_in", "uniform",
                       "Uniform in [-limit, limit], limit = sqrt(3 / fan_in).")
LecunNormal = _preset("LecunNormal", 1.0, "fan_in", "truncated_normal",
                      "Truncated normal, stddev = sqrt(1 / fan_in).")
HeUniform = _preset("HeUniform", 2.0, "fan_in", "uniform",
                    "Uniform in [-limit, limit], limit = sqrt(6 / fan_in).")
HeNormal = _preset("HeNormal", 2.0, "fan_in", "truncated_normal",
                   "Truncated normal, stddev = sqrt(2 / fan_in).")


class Orthogonal(RandomInitializer):
    """An orthogonal matrix (rows or columns orthonormal), reshaped, times `gain`.

    As in Keras: the Q of the QR decomposition of a normal matrix, with the signs fixed by
    R's diagonal so that the result is uniformly distributed. The QR runs in NumPy on the
    sampled values, so this initializer needs concrete (eager) values, as every variable
    initialization has.
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = gain
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        shape = normalize_shape(shape, "Orthogonal")
        if len(shape) < 2:
            raise ValueError(f"Orthogonal initializer: the shape must be at least 2D, "
                             f"received shape={shape} of rank {len(shape)}")
        dtype = self._float_dtype(dtype)
        rows, cols = math.prod(shape[:-1]), shape[-1]
        flat_shape = (max(rows, cols), min(rows, cols))
        sample = gk_random.normal(flat_shape, dtype=dtype, seed=self.seed)
        q, r = np.linalg.qr(np.asarray(sample, dtype=np.float64))
        q = q * np.sign(np.diag(r))  # makes the decomposition unique
        if rows < cols:
            q = q.T
        return ops.convert_to_tensor((self.gain * q).reshape(shape).astype(dtype))

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}
