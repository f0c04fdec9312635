"""RGB <-> HSV conversion as Keras's (from dm_pix), with gk.ops so it traces and compiles.
Hue, saturation and value all lie in [0, 1] for RGB in [0, 1]; the conversion is
scale-free in the value channel, so RGB in [0, 255] gives value in [0, 255]."""
import numpy as np

from graphkit import ops
from graphkit.layers.preprocessing.color import channel_axis


def _planes(images, data_format):
    axis = channel_axis(data_format)
    return [ops.squeeze(plane, axis) for plane in ops.split(images, 3, axis=axis)]


def rgb_to_hsv(images, data_format):
    # Values within one ulp of 0 count as 0, as Keras does, so the hue of near-black is 0.
    eps = float(np.finfo(images.dtype).eps)
    images = ops.where(ops.less(ops.abs(images), eps), 0.0, images)
    red, green, blue = _planes(images, data_format)
    value = ops.maximum(ops.maximum(red, green), blue)
    spread = ops.subtract(value, ops.minimum(ops.minimum(red, green), blue))
    # The "safe" divisors keep the discarded branch of each where finite.
    safe_value = ops.where(ops.greater(value, 0.0), value, 1.0)
    safe_spread = ops.where(ops.greater(spread, 0.0), spread, 1.0)
    saturation = ops.where(ops.greater(value, 0.0), ops.divide(spread, safe_value), 0.0)
    norm = ops.divide(1.0, ops.multiply(6.0, safe_spread))
    hue = ops.where(ops.equal(value, green),
                    ops.add(ops.multiply(norm, ops.subtract(blue, red)), 2.0 / 6.0),
                    ops.add(ops.multiply(norm, ops.subtract(red, green)), 4.0 / 6.0))
    hue = ops.where(ops.equal(value, red), ops.multiply(norm, ops.subtract(green, blue)), hue)
    # Red-dominant hues come out in (-1/6, 0): wrap them into [0, 1).
    wrap = ops.cast(ops.less(hue, 0.0), hue.dtype)
    hue = ops.add(ops.where(ops.greater(spread, 0.0), hue, 0.0), wrap)
    return ops.stack([hue, saturation, value], axis=channel_axis(data_format))


def _channel(dh, center, rising):
    """One RGB weight of the hue wheel: a clipped tent (or its complement) around center."""
    distance = ops.abs(ops.subtract(dh, center))
    raw = ops.subtract(distance, 1.0) if rising else ops.subtract(2.0, distance)
    return ops.clip(raw, 0.0, 1.0)


def hsv_to_rgb(images, data_format):
    hue, saturation, value = _planes(images, data_format)
    dh = ops.multiply(ops.mod(hue, 1.0), 6.0)
    weights = [_channel(dh, 3.0, True), _channel(dh, 2.0, False), _channel(dh, 4.0, False)]
    one_minus_s = ops.subtract(1.0, saturation)
    planes = [ops.multiply(value, ops.add(one_minus_s, ops.multiply(saturation, w)))
              for w in weights]
    return ops.stack(planes, axis=channel_axis(data_format))
