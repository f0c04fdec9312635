"""`Dropout`: zeroes a fraction `rate` of the inputs in training, scaling the rest."""
import numbers

from graphkit import random
from graphkit.layers.layer import Layer


class Dropout(Layer):
    """In training (`training=True`), each input is zeroed with probability `rate` and the
    others are scaled by `1 / (1 - rate)`; at inference it is the identity.

    The random state is a `gk.random.SeedGenerator` owned by the layer, so it appears in
    `layer.non_trainable_variables` (not in `weights`) and compiled code draws the same
    numbers as eager code.
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate <= 1:
            raise ValueError(
                f"{type(self).__name__}: invalid value received for argument `rate`. Expected "
                f"a float value between 0 and 1. Received: rate={rate!r}")
        self.rate = rate
        self.seed = seed
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        if rate > 0:
            self.seed_generator = random.SeedGenerator(seed)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=False):
        if training and self.rate > 0:
            return random.dropout(inputs, self.rate, noise_shape=self.noise_shape,
                                  seed=self.seed_generator)
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {"rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape}
        return {**super().get_config(), **config}
