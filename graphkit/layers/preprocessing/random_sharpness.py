"""`RandomSharpness`: in training, each image blended with a smoothed copy of itself by a
random amount (away from it: sharper; toward it: blurrier), then clipped."""
import numpy as np

from graphkit import ops
from graphkit.layers.preprocessing.color import channel_axis
from graphkit.layers.preprocessing.image_layer import (RandomImageLayer, factor_range,
                                                       value_range_pair)

# PIL's ImageFilter.SMOOTH kernel (1/13 around, 5/13 at the center), as Keras uses.
SMOOTH = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]]) / 13.0


class RandomSharpness(RandomImageLayer):
    """`factor` f (-> (0, f)) or (lower, upper), within [0, 1]: per image u is drawn from
    [lower, upper) and the result is image + (1 - 2u) (smoothed - image): 0.5 keeps the
    image, 0 gives the smoothed copy, 1 sharpens. As Keras, the smoothing pads with zeros
    ('same'), so border pixels are blended toward a darker copy."""

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        layer = f"RandomSharpness '{self.name}'"
        self.factor = factor_range(factor, (0, 1), "factor", layer)
        self.value_range = value_range_pair(value_range, layer)

    def augment(self, images):
        u = self.per_image_factor(images, self.factor[0], self.factor[1])
        weight = ops.subtract(1.0, ops.multiply(u, 2.0))
        smoothed = self._smooth(images)
        sharpened = ops.add(images, ops.multiply(weight, ops.subtract(smoothed, images)))
        return ops.clip(sharpened, self.value_range[0], self.value_range[1])

    def _smooth(self, images):
        channels = images.shape[channel_axis(self.data_format)]
        kernel = np.tile(SMOOTH.astype(images.dtype)[:, :, None, None], (1, 1, channels, 1))
        # The convolution wants a batch: an unbatched image is given one of size 1.
        batch = images if len(images.shape) == 4 else ops.expand_dims(images, 0)
        smoothed = ops.depthwise_conv(batch, kernel, padding="same",
                                      data_format=self.data_format)
        return smoothed if len(images.shape) == 4 else ops.squeeze(smoothed, 0)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor,
                "value_range": self.value_range}
