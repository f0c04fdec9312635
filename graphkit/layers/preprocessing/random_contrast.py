"""`RandomContrast`: in training, each image's deviations from its per-channel mean
scaled by a random factor, then clipped to `value_range`."""
from graphkit import ops
from graphkit.layers.preprocessing.image_layer import RandomImageLayer, factor_range


class RandomContrast(RandomImageLayer):
    """`factor` f or (lower, upper), within [0, 1]: the contrast factor is drawn uniformly
    from [1 - lower, 1 + upper) per image. As in Keras, a single number f gives
    (lower, upper) = (0, f), so the contrast only rises."""

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = factor_range(factor, (0, 1), "factor", f"RandomContrast '{self.name}'")
        self.value_range = value_range

    def augment(self, images):
        contrast = self.per_image_uniform(images, 1.0 - self.factor[0], 1.0 + self.factor[1])
        h_axis, w_axis = self.image_axes(images.shape)
        mean = ops.mean(images, axis=(h_axis, w_axis), keepdims=True)
        adjusted = ops.add(ops.multiply(ops.subtract(images, mean), contrast), mean)
        return ops.clip(adjusted, self.value_range[0], self.value_range[1])

    def get_config(self):
        return {**super().get_config(), "factor": self.factor,
                "value_range": self.value_range}
