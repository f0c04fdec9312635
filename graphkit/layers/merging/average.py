"""`Average` and its functional form `average`."""
from graphkit import ops
from graphkit.layers.merging.base_merge import Merge


class Average(Merge):
    """The elementwise mean of a list of inputs."""

    def _merge_function(self, inputs):
        output = inputs[0]
        for x in inputs[1:]:
            output = ops.add(output, x)
        return ops.divide(output, len(inputs))


def average(inputs, **kwargs):
    """`Average(**kwargs)(inputs)`."""
    return Average(**kwargs)(inputs)
