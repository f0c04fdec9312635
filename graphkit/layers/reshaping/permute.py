"""`Permute`: permutes the non-batch axes of the inputs."""
from graphkit import ops
from graphkit.core.keras_tensor import KerasTensor
from graphkit.layers.input_spec import InputSpec
from graphkit.layers.layer import Layer


class Permute(Layer):
    """`Permute((2, 1))` swaps axes 1 and 2. `dims` numbers the axes from 1 (the batch axis
    is 0 and never moves)."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(
                "Permute: invalid permutation argument `dims`. The indices in `dims` must be "
                f"consecutive and start from 1. Received: dims={dims}")
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)
        self.built = True

    def call(self, inputs):
        return ops.transpose(inputs, (0, *self.dims))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def compute_output_spec(self, inputs):
        # As Keras: the inputs' dtype passes through (integer ids stay integer); the base
        # class would give the layer's float compute dtype.
        return KerasTensor(self.compute_output_shape(inputs.shape), inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}
