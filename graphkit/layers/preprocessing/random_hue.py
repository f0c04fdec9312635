"""`RandomHue`: in training, each image's HSV hue rotated by a random amount, through an
RGB -> HSV -> RGB round trip on [0, 1] values."""
from graphkit import ops
from graphkit.layers.preprocessing.color import channel_axis, check_channels, rescale
from graphkit.layers.preprocessing.hsv import hsv_to_rgb, rgb_to_hsv
from graphkit.layers.preprocessing.image_layer import RandomImageLayer, factor_range

UNIT_RANGE = (0, 1)


class RandomHue(RandomImageLayer):
    """`factor` f (-> (0, f)) or (lower, upper), within [0, 1]: per image, Keras draws a
    sign (- when u > 0.5) and then an amount from [lower, upper); the hue moves by
    sign * amount / 2 of a full turn, wrapped into [0, 1]."""

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(factor, (0, 1), "factor", f"RandomHue '{self.name}'")
        self.value_range = value_range

    def augment(self, images):
        check_channels(images.shape, self.data_format, f"RandomHue '{self.name}'",
                       allowed=(3,))
        shift = self._shift(images)
        axis = channel_axis(self.data_format)
        unit = rescale(images, self.value_range, UNIT_RANGE)
        hue, saturation, value = ops.split(rgb_to_hsv(unit, self.data_format), 3, axis=axis)
        hue = ops.add(hue, shift)
        hue = ops.where(ops.greater(hue, 1.0), ops.subtract(hue, 1.0), hue)
        hue = ops.where(ops.less(hue, 0.0), ops.add(hue, 1.0), hue)
        rgb = hsv_to_rgb(ops.concatenate([hue, saturation, value], axis=axis),
                         self.data_format)
        return rescale(ops.clip(rgb, 0.0, 1.0), UNIT_RANGE, self.value_range)

    def _shift(self, images):
        # Two draws in Keras's order: the sign first, then the amount.
        sign = ops.where(ops.greater(self.per_image_uniform(images), 0.5), -1.0, 1.0)
        amount = self.per_image_factor(images, self.factor[0], self.factor[1])
        return ops.multiply(ops.multiply(ops.cast(sign, images.dtype), amount), 0.5)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor,
                "value_range": self.value_range}
