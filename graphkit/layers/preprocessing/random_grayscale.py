"""`RandomGrayscale`: in training, each image turned to grayscale with probability
`factor` (its channels all set to the luma, so the shape is kept)."""
from graphkit import ops
from graphkit.layers.preprocessing.color import check_channels, rgb_to_grayscale
from graphkit.layers.preprocessing.image_layer import RandomImageLayer


class RandomGrayscale(RandomImageLayer):
    """`factor` in [0, 1]: the probability that an image is converted."""

    def __init__(self, factor=0.5, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or \
                not 0 <= factor <= 1:
            raise ValueError(f"RandomGrayscale '{self.name}': `factor` should be between "
                             f"0 and 1. Received: factor={factor!r}")
        self.factor = factor

    def augment(self, images):
        check_channels(images.shape, self.data_format, f"RandomGrayscale '{self.name}'")
        apply = ops.less(self.per_image_uniform(images), self.factor)
        # The one-channel luma broadcasts over the channels, as in Keras.
        return ops.where(apply, rgb_to_grayscale(images, self.data_format), images)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}
