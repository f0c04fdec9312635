"""`RandomErasing`: in training, a random rectangle of some images replaced by noise or a
fill value (Zhong et al., 2017)."""
import numpy as np

from graphkit import ops, random
from graphkit.layers.preprocessing.color import channel_axis
from graphkit.layers.preprocessing.image_layer import RandomImageLayer, factor_range


def check_fill_value(fill_value, layer):
    """None (noise), a number, or three numbers (one per channel)."""
    number = (int, float)
    if fill_value is None or (isinstance(fill_value, number) and
                              not isinstance(fill_value, bool)):
        return fill_value
    if isinstance(fill_value, (tuple, list)) and len(fill_value) == 3 and \
            all(isinstance(v, number) for v in fill_value):
        return fill_value
    raise ValueError(f"{layer}: `fill_value` must be a number (or a list of three numbers). "
                     f"Received: fill_value={fill_value!r}")


class RandomErasing(RandomImageLayer):
    """`factor` f (-> (0, f)) or (lower, upper), within [0, 1]: per image an erasing
    probability p is drawn from [lower, upper) and a threshold t from [0, 1); the image
    is erased when t < p. `scale` (lower, upper) within [0, 1]: the rectangle's side
    fractions are the square roots of draws from [lower, upper), one for the width and one
    for the height, placed uniformly inside the image. `fill_value` None fills with
    normal noise times value_range[1]; either way the fill is clipped to `value_range`."""

    def __init__(self, factor=1.0, scale=(0.02, 0.33), fill_value=None,
                 value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        layer = f"RandomErasing '{self.name}'"
        self.factor = factor_range(factor, (0, 1), "factor", layer)
        self.scale = factor_range(scale, (0, 1), "scale", layer)
        self.fill_value = check_fill_value(fill_value, layer)
        self.value_range = value_range

    def augment(self, images):
        h_axis, w_axis = self.image_axes(images.shape)
        height, width = self.image_size(images.shape)
        # Keras's draw order: both side fractions, the starts, then the coin.
        width_part = ops.sqrt(self.per_image_factor(images, *self.scale))
        height_part = ops.sqrt(self.per_image_factor(images, *self.scale))
        in_x = self._inside(images, w_axis, width, width_part)
        in_y = self._inside(images, h_axis, height, height_part)
        probability = self.per_image_factor(images, *self.factor)
        erase = ops.less(self.per_image_uniform(images), probability)
        mask = ops.logical_and(ops.logical_and(in_x, in_y), erase)
        return ops.where(mask, self._fill(images), images)

    def _inside(self, images, axis, size, part):
        """Whether each position along `axis` lies in [start, start + part * size)."""
        length = ops.multiply(part, float(size))
        start = ops.multiply(self.per_image_uniform(images), ops.subtract(float(size), length))
        grid_shape = [1] * len(images.shape)
        grid_shape[axis] = size
        grid = ops.reshape(ops.arange(size, dtype=images.dtype), grid_shape)
        return ops.logical_and(ops.greater_equal(grid, start),
                               ops.less(grid, ops.add(start, length)))

    def _fill(self, images):
        if self.fill_value is None:
            fill = ops.multiply(random.normal(ops.shape(images), dtype=images.dtype,
                                              seed=self.seed_generator),
                                self.value_range[1])
        elif isinstance(self.fill_value, (tuple, list)):
            shape = [1] * len(images.shape)
            shape[channel_axis(self.data_format)] = 3
            fill = np.asarray(self.fill_value, dtype=images.dtype).reshape(shape)
        else:
            fill = np.asarray(self.fill_value, dtype=images.dtype)
        return ops.clip(fill, self.value_range[0], self.value_range[1])

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "scale": self.scale,
                "fill_value": self.fill_value, "value_range": self.value_range}
