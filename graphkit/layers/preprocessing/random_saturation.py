"""`RandomSaturation`: in training, each image's HSV saturation scaled by a random
amount (clipped to `value_range`), through an RGB -> HSV -> RGB round trip."""
from graphkit import config, ops
from graphkit.layers.preprocessing.color import channel_axis, check_channels
from graphkit.layers.preprocessing.hsv import hsv_to_rgb, rgb_to_hsv
from graphkit.layers.preprocessing.image_layer import (RandomImageLayer, factor_range,
                                                       value_range_pair)


class RandomSaturation(RandomImageLayer):
    """`factor` f (-> (-f, f)) or (lower, upper), within [-1, 1]: per image u is drawn from
    [lower, upper) and the saturation multiplied by u / (1 - u + epsilon), as Keras: 0.5
    keeps it, 0 removes it, 1 saturates fully. Keras clips the scaled saturation to
    `value_range` (so with (0, 255), only negatives are clipped, to 0)."""

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        layer = f"RandomSaturation '{self.name}'"
        self.factor = factor_range(factor, (-1, 1), "factor", layer)
        self.value_range = value_range_pair(value_range, layer)

    def augment(self, images):
        check_channels(images.shape, self.data_format, f"RandomSaturation '{self.name}'",
                       allowed=(3,))
        u = self.per_image_factor(images, self.factor[0], self.factor[1])
        scale = ops.divide(u, ops.add(ops.subtract(1.0, u), config.epsilon()))
        hue, saturation, value = ops.split(rgb_to_hsv(images, self.data_format), 3,
                                           axis=channel_axis(self.data_format))
        saturation = ops.clip(ops.multiply(saturation, scale), self.value_range[0],
                              self.value_range[1])
        hsv = ops.concatenate([hue, saturation, value], axis=channel_axis(self.data_format))
        return hsv_to_rgb(hsv, self.data_format)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor,
                "value_range": self.value_range}
