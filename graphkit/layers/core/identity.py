"""`Identity`: returns its inputs unchanged (a placeholder in a model's structure)."""
from graphkit.layers.layer import Layer


class Identity(Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.built = True  # no weights

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape
