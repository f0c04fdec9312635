"""`GaussianNoise` and `GaussianDropout`: additive and multiplicative normal noise in
training, the identity at inference."""
import math
import numbers

from graphkit import ops, random
from graphkit.layers.layer import Layer


def check_fraction(layer, arg, value):
    """Keras takes these noise levels in [0, 1] only."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{layer}: invalid value received for argument `{arg}`. Expected a "
                         f"float value between 0 and 1. Received: {arg}={value!r}")
    return value


class _NormalNoise(Layer):
    """The shared part: a level in [0, 1], a seed generator when the level is positive (the
    random state compiled code shares with eager code), masks passed through."""

    level_name = None

    def __init__(self, level, seed=None, **kwargs):
        super().__init__(**kwargs)
        setattr(self, self.level_name, check_fraction(type(self).__name__, self.level_name,
                                                      level))
        self.seed = seed
        if level > 0:
            self.seed_generator = random.SeedGenerator(seed)
        self.supports_masking = True
        self.built = True

    def _noise(self, inputs, mean, stddev):
        return random.normal(tuple(inputs.shape), mean=mean, stddev=stddev,
                             dtype=self.compute_dtype, seed=self.seed_generator)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), self.level_name: getattr(self, self.level_name),
                "seed": self.seed}


class GaussianNoise(_NormalNoise):
    """In training, adds noise drawn from N(0, stddev^2) (a regularizer that can be seen
    as data augmentation)."""

    level_name = "stddev"

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(stddev, seed, **kwargs)

    def call(self, inputs, training=False):
        if training and self.stddev > 0:
            return ops.add(inputs, self._noise(inputs, 0.0, self.stddev))
        return inputs


class GaussianDropout(_NormalNoise):
    """In training, multiplies by noise drawn from N(1, rate / (1 - rate)): the variance
    of Dropout(rate)'s multiplicative noise, without zeros."""

    level_name = "rate"

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, seed, **kwargs)

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            stddev = math.sqrt(self.rate / (1.0 - self.rate))
            return ops.multiply(inputs, self._noise(inputs, 1.0, stddev))
        return inputs
