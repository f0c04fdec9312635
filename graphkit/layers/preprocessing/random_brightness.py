"""`RandomBrightness`: in training, a random offset added to each image, then clipped to
`value_range`."""
from graphkit import ops
from graphkit.layers.preprocessing.image_layer import (RandomImageLayer, factor_range,
                                                       value_range_pair)


class RandomBrightness(RandomImageLayer):
    """`factor` f (-> (-f, f)) or (lower, upper), within [-1, 1]: the offset is drawn
    uniformly from [lower, upper) per image and scaled by the width of `value_range`."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        layer = f"RandomBrightness '{self.name}'"
        self.factor = factor_range(factor, (-1, 1), "factor", layer)
        self.value_range = value_range_pair(value_range, layer)

    def augment(self, images):
        low, high = self.value_range
        offset = self.per_image_uniform(images, self.factor[0], self.factor[1])
        return ops.clip(ops.add(images, ops.multiply(offset, high - low)), low, high)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor,
                "value_range": self.value_range}
