"""Random geometric augmentations: `RandomTranslation`, `RandomZoom` and `RandomRotation`.

Each maps every output pixel (x, y) to the input point (a0 x + a1 y + a2, b0 x + b1 y + b2)
for a per-image matrix drawn in training, and samples the image there as Keras's jax
backend does (`jax.scipy.ndimage.map_coordinates`: order 0 or 1, with its index rules for
the fill modes). The samples are gathers (`take_along_axis`) of the flattened images."""
import math

import numpy as np

from graphkit import ops, random
from graphkit.layers.preprocessing.image_layer import RandomImageLayer, factor_range

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("nearest", "bilinear")


# -- sampling ------------------------------------------------------------------------------

def _mirror_index(index, size):
    half_wave = size - 1
    return ops.abs(ops.subtract(ops.mod(ops.add(index, half_wave), 2 * half_wave), half_wave))


def _fixed_index(index, size, fill_mode):
    """map_coordinates's index rule for a (possibly outside) integer index."""
    if fill_mode == "reflect":  # half-sample symmetric: d c b a | a b c d | d c b a
        return ops.floor_divide(ops.subtract(_mirror_index(2 * index + 1, 2 * size + 1), 1), 2)
    if fill_mode == "wrap":
        return ops.mod(index, size)
    # "nearest" clamps; "constant" clamps only to gather safely (the fill replaces it).
    return ops.clip(index, 0, size - 1)


def _nodes(coordinate, interpolation):
    """(integer index, weight) pairs: the rounded point (half away from zero), or the two
    neighbours with linear weights."""
    if interpolation == "nearest":
        rounded = ops.multiply(ops.sign(coordinate), ops.floor(ops.abs(coordinate) + 0.5))
        return [(ops.cast(rounded, "int32"), 1.0)]
    lower = ops.floor(coordinate)
    upper_weight = ops.subtract(coordinate, lower)
    index = ops.cast(lower, "int32")
    return [(index, 1.0 - upper_weight), (index + 1, upper_weight)]


def sample_images(images, rows, cols, interpolation, fill_mode, fill_value):
    """`images` (b, h, w, c) sampled at the float points (rows, cols), each (b, h, w)."""
    _, height, width, channels = images.shape
    flat = ops.reshape(images, (-1, height * width, channels))
    out = None
    for row, row_weight in _nodes(rows, interpolation):
        for col, col_weight in _nodes(cols, interpolation):
            position = _fixed_index(row, height, fill_mode) * width + \
                _fixed_index(col, width, fill_mode)
            values = ops.take_along_axis(flat, ops.reshape(position, (-1, height * width, 1)),
                                         axis=1)
            values = ops.reshape(values, (-1, height, width, channels))
            if fill_mode == "constant":
                inside = ops.logical_and(ops.logical_and(row >= 0, row < height),
                                         ops.logical_and(col >= 0, col < width))
                values = ops.where(ops.expand_dims(inside, -1), values, fill_value)
            term = values * ops.expand_dims(ops.multiply(row_weight, col_weight), -1)
            out = term if out is None else out + term
    return out


# -- the layers ----------------------------------------------------------------------------

def axis_factor_range(factor, arg, layer, open_below=False):
    """A number f -> (-|f|, |f|); a pair -> sorted; every number in [-1, 1] ((-1, 1] when
    `open_below`, for zooms, where -1 would shrink the image to nothing)."""
    bounds = "(-1.0, 1.0]" if open_below else "[-1.0, 1.0]"
    error = (f"{layer}: `{arg}` must be a number or a list of two numbers in the range "
             f"{bounds}. Received: {arg}={factor!r}")
    numbers = factor if isinstance(factor, (tuple, list)) else [factor]
    if len(numbers) not in (1, 2) or any(
            isinstance(f, bool) or not isinstance(f, (int, float)) for f in numbers):
        raise ValueError(error)
    if any(f > 1.0 or f < -1.0 or (open_below and f == -1.0) for f in numbers):
        raise ValueError(error)
    if isinstance(factor, (tuple, list)):
        return tuple(sorted(factor))
    return -abs(factor), abs(factor)


class RandomAffineLayer(RandomImageLayer):
    """Draws a per-image matrix (subclasses' `matrix`) and samples the images through it;
    the shared `fill_mode`, `interpolation` and `fill_value` arguments live here."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        layer = f"{type(self).__name__} '{self.name}'"
        if fill_mode not in FILL_MODES:
            raise ValueError(f"{layer}: `fill_mode` must be one of {FILL_MODES}. "
                             f"Received: fill_mode={fill_mode!r}")
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"{layer}: `interpolation` must be one of {INTERPOLATIONS}. "
                             f"Received: interpolation={interpolation!r}")
        self.fill_mode, self.interpolation, self.fill_value = fill_mode, interpolation, \
            fill_value

    def augment(self, images):
        unbatched = len(images.shape) == 3
        batch = ops.expand_dims(images, 0) if unbatched else images
        if self.data_format == "channels_first":
            batch = ops.transpose(batch, (0, 2, 3, 1))
        height, width = batch.shape[1], batch.shape[2]
        a0, a1, a2, b0, b1, b2 = (ops.reshape(ops.cast(v, self.compute_dtype), (-1, 1, 1))
                                  for v in self.matrix(ops.shape(batch)[0], height, width))
        ys = ops.convert_to_tensor(np.arange(height, dtype=self.compute_dtype)[:, None])
        xs = ops.convert_to_tensor(np.arange(width, dtype=self.compute_dtype)[None, :])
        rows = b0 * xs + b1 * ys + b2
        cols = a0 * xs + a1 * ys + a2
        out = sample_images(batch, rows, cols, self.interpolation, self.fill_mode,
                            self.fill_value)
        if self.data_format == "channels_first":
            out = ops.transpose(out, (0, 3, 1, 2))
        return ops.squeeze(out, 0) if unbatched else out

    def matrix(self, batch_size, height, width):
        """Each image's inverse map (a0, a1, a2, b0, b1, b2), each of shape (batch,)."""
        raise NotImplementedError(f"{type(self).__name__} must define matrix(batch_size, "
                                  "height, width)")

    def uniform(self, batch_size, low, high):
        """One number per image from the layer's own stream."""
        return random.uniform((batch_size,), low, high, dtype=self.compute_dtype,
                              seed=self.seed_generator)

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode,
                "interpolation": self.interpolation, "fill_value": self.fill_value}


class RandomTranslation(RandomAffineLayer):
    """Shifts each image by a fraction of its height drawn from `height_factor` (a number
    f: [-f, f); negative shifts up) and of its width from `width_factor` (negative: left);
    uncovered pixels are filled by `fill_mode`."""

    def __init__(self, height_factor, width_factor, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        layer = f"RandomTranslation '{self.name}'"
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_range = axis_factor_range(height_factor, "height_factor", layer)
        self.width_range = axis_factor_range(width_factor, "width_factor", layer)

    def matrix(self, batch_size, height, width):
        dy = self.uniform(batch_size, *self.height_range) * height  # Keras draws it first
        dx = self.uniform(batch_size, *self.width_range) * width
        ones, zeros = ops.ones_like(dx), ops.zeros_like(dx)
        return ones, zeros, -dx, zeros, ones, -dy

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


class RandomZoom(RandomAffineLayer):
    """Zooms each image about its center: the sampled region's height is scaled by
    1 + z, z drawn from `height_factor` (negative z zooms in), and its width by a draw from
    `width_factor`, or by the same factor when `width_factor` is None."""

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        layer = f"RandomZoom '{self.name}'"
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_range = axis_factor_range(height_factor, "height_factor", layer, True)
        self.width_range = None if width_factor is None else \
            axis_factor_range(width_factor, "width_factor", layer, True)

    def matrix(self, batch_size, height, width):
        zoom_y = self.uniform(batch_size, 1.0 + self.height_range[0],
                              1.0 + self.height_range[1])
        zoom_x = zoom_y if self.width_range is None else \
            self.uniform(batch_size, 1.0 + self.width_range[0], 1.0 + self.width_range[1])
        zeros = ops.zeros_like(zoom_x)
        return (zoom_x, zeros, (width - 1.0) / 2.0 * (1.0 - zoom_x),
                zeros, zoom_y, (height - 1.0) / 2.0 * (1.0 - zoom_y))

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


class RandomRotation(RandomAffineLayer):
    """Rotates each image about its center by an angle drawn from `factor` (a number f or
    a pair, in fractions of a full turn: f=0.1 draws from [-36, 36) degrees; positive is
    counter-clockwise)."""

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = factor_range(factor, (-1, 1), "factor", f"RandomRotation '{self.name}'")

    def matrix(self, batch_size, height, width):
        degrees = self.uniform(batch_size, self.factor[0] * 360.0, self.factor[1] * 360.0)
        angle = degrees * (math.pi / 180.0)
        cos, sin = ops.cos(angle), ops.sin(angle)
        center_x, center_y = 0.5 * (width - 1), 0.5 * (height - 1)
        return (cos, -sin, center_x - center_x * cos + center_y * sin,
                sin, cos, center_y - center_x * sin - center_y * cos)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}
