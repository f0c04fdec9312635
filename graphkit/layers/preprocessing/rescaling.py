"""`Rescaling`: `x * scale + offset` (images from [0, 255] to [0, 1] with scale=1/255)."""
import numpy as np

from graphkit import ops
from graphkit.layers.layer import Layer


class Rescaling(Layer):
    """`scale` and `offset` are numbers, or arrays that broadcast against the inputs (one
    per channel, say)."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.offset = scale, offset
        self.supports_masking = True
        self.built = True  # no weights

    def call(self, inputs):
        dtype = self.compute_dtype
        inputs = ops.cast(inputs, dtype)
        scale = ops.cast(ops.convert_to_tensor(np.asarray(self.scale)), dtype)
        offset = ops.cast(ops.convert_to_tensor(np.asarray(self.offset)), dtype)
        return ops.add(ops.multiply(inputs, scale), offset)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "scale": _plain(self.scale),
                "offset": _plain(self.offset)}


def _plain(value):
    """A JSON-able number or nested list (array arguments are saved as lists)."""
    return np.asarray(value).tolist() if not isinstance(value, (int, float)) else value
