"""`RandomColorDegeneration`: in training, each image blended toward its grayscale
version by a random amount, then clipped to `value_range`."""
from graphkit import ops
from graphkit.layers.preprocessing.color import check_channels, rgb_to_grayscale
from graphkit.layers.preprocessing.image_layer import (RandomImageLayer, factor_range,
                                                       value_range_pair)


class RandomColorDegeneration(RandomImageLayer):
    """`factor` f (-> (-f, f), Keras's base `_set_factor`) or (lower, upper), within
    [-1, 1]: the blend weight toward gray is drawn from [lower, upper) per image;
    0 keeps the image, 1 makes it gray, negatives push the colors further apart."""

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        layer = f"RandomColorDegeneration '{self.name}'"
        self.factor = factor_range(factor, (-1, 1), "factor", layer)
        self.value_range = value_range_pair(value_range, layer)

    def augment(self, images):
        check_channels(images.shape, self.data_format,
                       f"RandomColorDegeneration '{self.name}'")
        weight = self.per_image_factor(images, self.factor[0], self.factor[1])
        gray = rgb_to_grayscale(images, self.data_format)
        blended = ops.add(images, ops.multiply(weight, ops.subtract(gray, images)))
        return ops.clip(blended, self.value_range[0], self.value_range[1])

    def get_config(self):
        return {**super().get_config(), "factor": self.factor,
                "value_range": self.value_range}
