"""`UnitNormalization`: scales each example to unit L2 norm along `axis`."""
from graphkit import dtypes, ops
from graphkit.layers.layer import Layer
from graphkit.layers.normalization.arguments import axis_argument, normalized_axes

# Keras bounds the inverse norm by 1e12 (its `ops.normalize` epsilon) so that an all-zero
# slice stays zero instead of becoming NaN; bounding the square sum below by 1e-24 instead
# is the same, without rsqrt(0) = inf on the way.
_MIN_SQUARE_SUM = 1e-24


class UnitNormalization(Layer):
    """`x / sqrt(sum(x ** 2))`, the sum over `axis` (an int or a list of ints)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis_argument(axis, "UnitNormalization")
        self.supports_masking = True

    def call(self, inputs):
        inputs = ops.cast(inputs, self.compute_dtype)
        input_dtype = inputs.dtype
        # The sum of squares in at least float32: in float16 it overflows past 256.
        x = ops.cast(inputs, dtypes.result_type(input_dtype, "float32"))
        axes = normalized_axes(self, len(x.shape))
        square_sum = ops.sum(ops.square(x), axis=axes, keepdims=True)
        inverse_norm = ops.rsqrt(ops.maximum(square_sum, _MIN_SQUARE_SUM))
        return ops.cast(ops.multiply(x, inverse_norm), input_dtype)

    def compute_output_shape(self, input_shape):
        normalized_axes(self, len(input_shape))
        return input_shape

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
