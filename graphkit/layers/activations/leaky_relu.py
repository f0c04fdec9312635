"""`LeakyReLU`: `x` for `x >= 0`, `negative_slope * x` below (Keras's default slope 0.3)."""
import warnings

from graphkit import activations
from graphkit.layers.activations.relu import check_non_negative
from graphkit.layers.layer import Layer


class LeakyReLU(Layer):
    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:  # Keras 2's name, still taken by Keras 3
            negative_slope = kwargs.pop("alpha")
            warnings.warn("LeakyReLU: argument `alpha` is deprecated. Use `negative_slope` "
                          "instead.", stacklevel=2)
        super().__init__(**kwargs)
        self.negative_slope = check_non_negative(self, "negative_slope", negative_slope)
        self.supports_masking = True
        self.built = True  # no weights

    def call(self, inputs):
        return activations.leaky_relu(inputs, negative_slope=self.negative_slope)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}
