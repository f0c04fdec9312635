"""`Solarization`: in training, a random offset added to each image (clipped), then the
values at or above a random threshold inverted, all on the 0-255 scale."""
from graphkit import ops
from graphkit.layers.preprocessing.color import rescale
from graphkit.layers.preprocessing.image_layer import RandomImageLayer, value_range_pair

PIXEL_RANGE = (0, 255)


def unit_factor(factor, arg, layer):
    """Solarization's factors: f -> (0, f), a pair -> sorted; every number in [0, 1]."""
    pair = factor if isinstance(factor, (tuple, list)) else (0, factor)
    if len(pair) != 2 or any(isinstance(f, bool) or not isinstance(f, (int, float)) or
                             not 0 <= f <= 1 for f in pair):
        raise ValueError(f"{layer}: `{arg}` must be a number (or a list of two numbers) in "
                         f"the range [0, 1]. Received: {arg}={factor!r}")
    return tuple(sorted(pair))


class Solarization(RandomImageLayer):
    """`addition_factor` and `threshold_factor`: f or (lower, upper) within [0, 1]. As in
    Keras, the offset and threshold are drawn from [lower, 255 * upper): only the upper
    end is scaled to pixels. The defaults (0, 0) solarize at threshold 0, inverting all."""

    def __init__(self, addition_factor=0.0, threshold_factor=0.0, value_range=(0, 255),
                 seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        layer = f"Solarization '{self.name}'"
        self.addition_factor = unit_factor(addition_factor, "addition_factor", layer)
        self.threshold_factor = unit_factor(threshold_factor, "threshold_factor", layer)
        self.value_range = value_range_pair(value_range, layer)

    def augment(self, images):
        additions = self._draw(images, self.addition_factor)
        thresholds = self._draw(images, self.threshold_factor)
        pixels = rescale(images, self.value_range, PIXEL_RANGE)
        pixels = ops.clip(ops.add(pixels, additions), 0, 255)
        pixels = ops.where(ops.less(pixels, thresholds), pixels, ops.subtract(255, pixels))
        return rescale(pixels, PIXEL_RANGE, self.value_range)

    def _draw(self, images, factor):
        return self.per_image_factor(images, factor[0], factor[1] * 255)

    def get_config(self):
        return {**super().get_config(), "value_range": self.value_range,
                "addition_factor": self.addition_factor,
                "threshold_factor": self.threshold_factor}
