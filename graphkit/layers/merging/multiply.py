"""`Multiply` and its functional form `multiply`."""
from graphkit import ops
from graphkit.layers.merging.base_merge import Merge


class Multiply(Merge):
    """The elementwise product of a list of inputs."""

    def _merge_function(self, inputs):
        output = inputs[0]
        for x in inputs[1:]:
            output = ops.multiply(output, x)
        return output


def multiply(inputs, **kwargs):
    """`Multiply(**kwargs)(inputs)`."""
    return Multiply(**kwargs)(inputs)
