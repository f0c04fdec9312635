"""`Reshape`: reshapes every example to `target_shape` (the batch axis is kept)."""
import math

from graphkit import ops
from graphkit.core.keras_tensor import KerasTensor
from graphkit.layers.layer import Layer


def resolve_target_shape(input_dims, target_shape, layer="Reshape"):
    """`target_shape` with its -1 resolved from `input_dims` (None where it can't be)."""
    if None in input_dims:
        return tuple(None if d == -1 else d for d in target_shape)
    size = math.prod(input_dims)
    if -1 not in target_shape:
        if size != math.prod(target_shape):
            raise ValueError(
                f"{layer}: the total size of the tensor must be unchanged. Received: "
                f"input_shape={tuple(input_dims)} ({size} elements per example), "
                f"target_shape={tuple(target_shape)}")
        return tuple(target_shape)
    known = math.prod(d for d in target_shape if d != -1)
    if known == 0 or size % known:
        raise ValueError(
            f"{layer}: cannot reshape examples of shape {tuple(input_dims)} ({size} "
            f"elements) into target_shape={tuple(target_shape)}")
    return tuple(size // known if d == -1 else d for d in target_shape)


class Reshape(Layer):
    """`Reshape((3, -1))` turns `(batch, 12)` into `(batch, 3, 4)`. One entry of
    `target_shape` may be -1."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        target_shape = tuple(target_shape)
        bad = [d for d in target_shape
               if isinstance(d, bool) or not isinstance(d, int) or d < -1]
        if bad or target_shape.count(-1) > 1:
            raise ValueError(
                "Reshape: each dimension of `target_shape` must be a non-negative integer, or "
                f"-1 for a single unknown dimension. Received: target_shape={target_shape}")
        self.target_shape = target_shape
        self.built = True

    def call(self, inputs):
        shape = tuple(inputs.shape)
        resolved = resolve_target_shape(shape[1:], self.target_shape, f"Reshape '{self.name}'")
        if None not in resolved:
            return ops.reshape(inputs, (-1, *resolved))
        batch = shape[0]
        if batch is None:
            raise ValueError(
                f"Reshape '{self.name}': cannot reshape inputs of shape {shape} to "
                f"{self.target_shape} when the batch size is unknown as well")
        return ops.reshape(inputs, (batch, *(-1 if d is None else d for d in resolved)))

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        return (input_shape[0],
                *resolve_target_shape(input_shape[1:], self.target_shape,
                                      f"Reshape '{self.name}'"))

    def compute_output_spec(self, inputs):
        # As Keras: the inputs' dtype passes through (integer ids stay integer); the base
        # class would give the layer's float compute dtype.
        return KerasTensor(self.compute_output_shape(inputs.shape), inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}
