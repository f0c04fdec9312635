"""`ReLU`: Keras's rectifier layer with an optional leak, ceiling and threshold."""
from graphkit import activations
from graphkit.layers.layer import Layer


def check_non_negative(layer, arg, value, allow_none=False):
    """Keras refuses negative (and, but for a ceiling, missing) activation arguments."""
    if value is None and allow_none:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{type(layer).__name__} '{layer.name}': `{arg}` must be a "
                         f"non-negative number. Received: {arg}={value!r}")
    return value


class ReLU(Layer):
    """`max_value` for `x >= max_value`, `x` for `threshold <= x < max_value`, and
    `negative_slope * (x - threshold)` below the threshold."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = check_non_negative(self, "max_value", max_value, allow_none=True)
        self.negative_slope = check_non_negative(self, "negative_slope", negative_slope)
        self.threshold = check_non_negative(self, "threshold", threshold)
        self.supports_masking = True
        self.built = True  # no weights

    def call(self, inputs):
        return activations.relu(inputs, negative_slope=self.negative_slope,
                                max_value=self.max_value, threshold=self.threshold)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}
