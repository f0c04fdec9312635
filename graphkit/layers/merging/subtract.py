"""`Subtract` and its functional form `subtract`."""
from graphkit import ops
from graphkit.layers.merging.base_merge import Merge


class Subtract(Merge):
    """`inputs[0] - inputs[1]`, for exactly two inputs."""

    def build(self, input_shape):
        super().build(input_shape)
        if len(input_shape) != 2:
            raise ValueError(
                f"Subtract '{self.name}': a Subtract layer should be called on exactly 2 "
                f"inputs. Received {len(input_shape)} inputs with shapes "
                f"{[tuple(s) for s in input_shape]}")

    def _merge_function(self, inputs):
        if len(inputs) != 2:
            raise ValueError(
                f"Subtract '{self.name}': a Subtract layer should be called on exactly 2 "
                f"inputs. Received {len(inputs)} inputs")
        return ops.subtract(inputs[0], inputs[1])


def subtract(inputs, **kwargs):
    """`Subtract(**kwargs)(inputs)`."""
    return Subtract(**kwargs)(inputs)
