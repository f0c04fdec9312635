"""Color helpers shared by the color augmentation layers: Keras's grayscale conversion
and its linear map between value ranges."""
import numpy as np

from graphkit import ops

# ITU-R 601 luma weights, as Keras's (and tf.image's) rgb_to_grayscale.
GRAYSCALE_WEIGHTS = (0.2989, 0.5870, 0.1140)


def channel_axis(data_format):
    """The channel axis counted from the back, valid for rank-3 and rank-4 images."""
    return -1 if data_format == "channels_last" else -3


def check_channels(shape, data_format, layer, allowed=(1, 3)):
    """RGB (3) or, where `allowed`, grayscale (1) channels, else a ValueError naming the
    layer."""
    if shape[channel_axis(data_format)] not in allowed:
        kinds = " or ".join({3: "3 (RGB)", 1: "1 (grayscale)"}[n] for n in allowed)
        raise ValueError(f"{layer}: expected {kinds} channels. Received: "
                         f"inputs.shape={tuple(shape)}")


def rgb_to_grayscale(images, data_format):
    """The luma of each pixel as one channel (grayscale images pass through)."""
    axis = channel_axis(data_format)
    if images.shape[axis] == 1:
        return images
    # Weights shaped to lie along the channel axis, so a broadcast product and a sum
    # over that axis are Keras's tensordot.
    weights = np.asarray(GRAYSCALE_WEIGHTS, dtype=images.dtype).reshape(
        (3,) + (1,) * (-axis - 1))
    return ops.sum(ops.multiply(images, weights), axis=axis, keepdims=True)


def rescale(images, source, target):
    """Keras's `_transform_value_range`: the affine map sending range `source` to
    `target` (the identity when they are equal)."""
    if tuple(source) == tuple(target):
        return images
    unit = ops.divide(ops.subtract(images, source[0]), source[1] - source[0])
    return ops.add(ops.multiply(unit, target[1] - target[0]), target[0])
