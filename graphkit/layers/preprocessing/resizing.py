"""`Resizing`: images to (height, width), by nearest-neighbour or bilinear interpolation
with half-pixel centers and no antialiasing (the numbers of Keras's jax backend), optionally
cropping or padding to the target aspect ratio first.

The interpolation weights depend only on the static sizes, so they are NumPy constants and
the resize itself is a gather (`take`) or one matmul per axis: gradients and compiled code
come with those ops."""
import numpy as np

from graphkit import dtypes, ops
from graphkit.layers.preprocessing.image_layer import ImageLayer, check_size

INTERPOLATIONS = ("nearest", "bilinear")


def aspect_crop_box(height, width, target_height, target_width):
    """The largest centered (h_start, w_start, crop_height, crop_width) box of the target
    aspect ratio, with Keras's integer rounding."""
    crop_height = max(min(height, int(float(width * target_height) / target_width)), 1)
    crop_width = max(min(width, int(float(height * target_width) / target_height)), 1)
    return (int(float(height - crop_height) / 2), int(float(width - crop_width) / 2),
            crop_height, crop_width)


def crop_images(images, axes, box):
    """images[..., h_start:h_start + crop_h, w_start:w_start + crop_w, ...]."""
    h_start, w_start, crop_height, crop_width = box
    index = [slice(None)] * len(images.shape)
    index[axes[0]] = slice(h_start, h_start + crop_height)
    index[axes[1]] = slice(w_start, w_start + crop_width)
    return images[tuple(index)]


def _nearest_indices(size, new_size):
    # jax.image.resize's nearest: floor((i + 0.5) * size / new_size), in float32.
    positions = (np.arange(new_size, dtype=np.float32) + np.float32(0.5)) * \
        np.float32(size) / np.float32(new_size)
    return np.floor(positions).astype(np.int32)


def _bilinear_weights(size, new_size):
    """(new_size, size) triangle-kernel weights at half-pixel centers, each row normalized
    (so edge samples take the edge pixel, as jax's scale_and_translate)."""
    centers = (np.arange(new_size) + 0.5) * size / new_size - 0.5
    weights = np.maximum(0.0, 1.0 - np.abs(centers[:, None] - np.arange(size)[None, :]))
    return weights / weights.sum(axis=1, keepdims=True)


def _resize_axis(images, axis, new_size, interpolation):
    size = images.shape[axis]
    if size == new_size:
        return images
    if interpolation == "nearest":
        return ops.take(images, _nearest_indices(size, new_size), axis=axis)
    weights = ops.cast(_bilinear_weights(size, new_size).T, images.dtype)
    moved = ops.moveaxis(images, axis, -1)
    return ops.moveaxis(ops.matmul(moved, weights), -1, axis)


def resize_images(images, axes, size, interpolation="bilinear"):
    """Float `images` resized along `axes` (height, width) to `size`."""
    for axis, new_size in zip(axes, size):
        images = _resize_axis(images, axis, new_size, interpolation)
    return images


def _saturate_cast(values, dtype):
    """Rounded float values back in an integer dtype, clipped to its range (as Keras)."""
    info = np.iinfo(dtype)
    return ops.cast(ops.clip(ops.round(values), float(info.min), float(info.max)), dtype)


class Resizing(ImageLayer):
    """Resizes images to (height, width). With `crop_to_aspect_ratio`, the largest centered
    box of the target aspect ratio is resized; with `pad_to_aspect_ratio`, the image is
    padded with `fill_value` on both sides to that ratio first. Integer images come back
    rounded in their own dtype."""

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0,
                 antialias=False, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        layer = f"Resizing '{self.name}'"
        self.height, self.width = check_size(height, "height", layer), \
            check_size(width, "width", layer)
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"{layer}: `interpolation` must be one of {INTERPOLATIONS}. "
                             f"Received: interpolation={interpolation!r}")
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError(f"{layer}: only one of `crop_to_aspect_ratio` and "
                             "`pad_to_aspect_ratio` can be True. Received both True")
        if fill_mode != "constant":
            raise ValueError(f"{layer}: `fill_mode` must be 'constant' (the only one Keras "
                             f"supports). Received: fill_mode={fill_mode!r}")
        if antialias:
            raise ValueError(f"{layer}: antialias=True is not supported; expected "
                             f"antialias=False. Received: antialias={antialias!r}")
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = crop_to_aspect_ratio
        self.pad_to_aspect_ratio = pad_to_aspect_ratio
        self.fill_mode, self.fill_value, self.antialias = fill_mode, fill_value, False

    def call(self, inputs):
        axes = self.image_axes(inputs.shape)
        input_dtype = dtypes.standardize_dtype(inputs.dtype)
        images = ops.cast(inputs, self.compute_dtype)
        height, width = self.image_size(images.shape)
        if self.crop_to_aspect_ratio:
            images = crop_images(images, axes,
                                 aspect_crop_box(height, width, self.height, self.width))
        elif self.pad_to_aspect_ratio:
            images = self._pad_to_aspect_ratio(images, axes, height, width)
        resized = resize_images(images, axes, (self.height, self.width), self.interpolation)
        if dtypes.is_float(input_dtype) or input_dtype == "bool":
            return resized
        return _saturate_cast(resized, input_dtype)

    def _pad_to_aspect_ratio(self, images, axes, height, width):
        # Keras pads the same amount on both sides of one axis (the height's if it needs
        # any), so an odd difference leaves the ratio slightly off, as there.
        pad_height = max(height, int(float(width * self.height) / self.width))
        pad_width = max(width, int(float(height * self.width) / self.height))
        pads = [(0, 0)] * len(images.shape)
        h_pad, w_pad = int(float(pad_height - height) / 2), int(float(pad_width - width) / 2)
        if h_pad > 0:
            pads[axes[0]] = (h_pad, h_pad)
        elif w_pad > 0:
            pads[axes[1]] = (w_pad, w_pad)
        else:
            return images
        return ops.pad(images, pads, constant_values=self.fill_value)

    def compute_output_shape(self, input_shape):
        return self.with_image_size(input_shape, self.height, self.width)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio,
                "fill_mode": self.fill_mode, "fill_value": self.fill_value,
                "antialias": self.antialias}
