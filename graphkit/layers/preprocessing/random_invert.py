"""`RandomInvert`: in training, each image replaced by `value_range[1] - image` with a
random probability."""
from graphkit import ops
from graphkit.layers.preprocessing.image_layer import RandomImageLayer, factor_range


class RandomInvert(RandomImageLayer):
    """`factor` f (-> (0, f)) or (lower, upper), within [0, 1]: per image, Keras draws an
    inversion probability p from [lower, upper) and a threshold t from [0, 1), and inverts
    when t < p. Both draws are kept, in Keras's order, so a fixed factor behaves alike."""

    def __init__(self, factor=1.0, value_range=(0, 255), seed=None, data_format=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(factor, (0, 1), "factor", f"RandomInvert '{self.name}'")
        self.value_range = value_range

    def augment(self, images):
        probability = self.per_image_factor(images, self.factor[0], self.factor[1])
        threshold = self.per_image_uniform(images)
        inverted = ops.subtract(self.value_range[1], images)
        return ops.where(ops.less(threshold, probability), inverted, images)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor,
                "value_range": self.value_range}
