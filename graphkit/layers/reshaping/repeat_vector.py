"""`RepeatVector`: `(batch, features)` -> `(batch, n, features)`."""
from graphkit import ops
from graphkit.layers.input_spec import InputSpec
from graphkit.layers.layer import Layer


class RepeatVector(Layer):
    """Repeats each input vector `n` times along a new axis 1."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"RepeatVector: expected an integer value for `n`, received {n!r}")
        if n <= 0:
            raise ValueError(f"RepeatVector: `n` must be a positive integer. Received: n={n}")
        self.n = n
        self.input_spec = InputSpec(ndim=2)
        self.built = True

    def call(self, inputs):
        return ops.tile(ops.expand_dims(inputs, 1), (1, self.n, 1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}
