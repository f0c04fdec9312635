"""`ActivityRegularization`: the identity, plus an L1/L2 penalty on its output."""
from graphkit import regularizers
from graphkit.layers.layer import Layer


class ActivityRegularization(Layer):
    """Adds `l1 * sum(|x|) + l2 * sum(x**2)` of its output to `layer.losses`."""

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(activity_regularizer=regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.supports_masking = True
        self.l1 = l1
        self.l2 = l2
        self.built = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        base = super().get_config()
        base.pop("activity_regularizer", None)  # rebuilt from l1 and l2
        return {**base, "l1": self.l1, "l2": self.l2}
