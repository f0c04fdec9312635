"""`Multiply` and its functional form `multiply`."""
from graphkit import ops
from graphkit.layers.merging.base_merge import Merge, fold


class Multiply(Merge):
    """The elementwise product of a list of inputs."""

    def _merge_function(self, inputs):
        return fold(ops.multiply, inputs)


def multiply(inputs, **kwargs):
    """`Multiply(**kwargs)(inputs)`."""
    return Multiply(**kwargs)(inputs)
