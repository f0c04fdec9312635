"""`Activation`: applies an activation function to its input."""
from graphkit import activations
from graphkit.layers.layer import Layer


class Activation(Layer):
    """`Activation("relu")(x)` is `gk.activations.relu(x)`; masks pass through."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.activation = activations.get(activation)
        self.built = True  # no weights: nothing to build

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}
