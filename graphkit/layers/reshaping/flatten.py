"""`Flatten`: `(batch, d1, d2, ...)` -> `(batch, d1 * d2 * ...)`."""
import math

from graphkit import ops
from graphkit.core.keras_tensor import KerasTensor
from graphkit.layers.input_spec import InputSpec
from graphkit.layers.layer import Layer

DATA_FORMATS = ("channels_last", "channels_first")


def standardize_data_format(data_format, layer="layer"):
    """`None` -> "channels_last" (graphkit's image data format), else one of the two."""
    if data_format is None:
        return "channels_last"
    value = str(data_format).lower()
    if value not in DATA_FORMATS:
        raise ValueError(f"{layer}: `data_format` must be one of {DATA_FORMATS}. "
                         f"Received: data_format={data_format!r}")
    return value


def _flat_size(dims):
    if not dims:
        return 1
    if any(d is None for d in dims):
        return None
    return math.prod(dims)


class Flatten(Layer):
    """Flattens every axis but the batch axis. With `data_format="channels_first"` the
    channel axis is moved last first, so the order matches a channels-last model."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format, "Flatten")
        self.input_spec = InputSpec(min_ndim=1)
        self.built = True

    def call(self, inputs):
        rank = len(inputs.shape)
        if self.data_format == "channels_first" and rank > 2:
            inputs = ops.transpose(inputs, (0, *range(2, rank), 1))
        batch, flat = self.compute_output_shape(inputs.shape)
        if flat is None:
            return ops.reshape(inputs, (-1 if batch is None else batch, -1))
        return ops.reshape(inputs, (-1, flat))

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        return (input_shape[0], _flat_size(input_shape[1:]))

    def compute_output_spec(self, inputs):
        # As Keras: the inputs' dtype passes through (integer ids stay integer); the base
        # class would give the layer's float compute dtype.
        return KerasTensor(self.compute_output_shape(inputs.shape), inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}
