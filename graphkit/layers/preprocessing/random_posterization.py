"""`RandomPosterization`: in training, each image's 0-255 values kept to a random number
of leading bits."""
from graphkit import ops
from graphkit.layers.preprocessing.color import rescale
from graphkit.layers.preprocessing.image_layer import (RandomImageLayer, factor_range,
                                                       value_range_pair)

MAX_BITS = 8
PIXEL_RANGE = (0, 255)


class RandomPosterization(RandomImageLayer):
    """`factor` f (-> (1, f)) or (lower, upper), within [1, 8]: the bits kept are drawn as
    Keras's randint, uniform over the integers in [lower, upper) (upper excluded), or are
    `lower` when the two are equal."""

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        layer = f"RandomPosterization '{self.name}'"
        self.factor = factor_range(factor, (1, MAX_BITS), "factor", layer)
        self.value_range = value_range_pair(value_range, layer)

    def augment(self, images):
        step = ops.power(2.0, ops.subtract(float(MAX_BITS), self._bits(images)))
        step = ops.cast(step, images.dtype)
        # Keras casts to uint8 (truncation) and shifts right then left; on whole numbers
        # in [0, 255] that is flooring to a multiple of the power-of-two step, and the
        # divisions by a power of two are exact.
        pixels = ops.floor(rescale(images, self.value_range, PIXEL_RANGE))
        pixels = ops.multiply(ops.floor(ops.divide(pixels, step)), step)
        return rescale(pixels, PIXEL_RANGE, self.value_range)

    def _bits(self, images):
        # Integers in [lower, upper), as Keras's randint; fixed bits when the two are equal.
        return ops.floor(self.per_image_factor(images, self.factor[0], self.factor[1]))

    def get_config(self):
        return {**super().get_config(), "factor": self.factor,
                "value_range": self.value_range}
