"""`Add` and its functional form `add`."""
from graphkit import ops
from graphkit.layers.merging.base_merge import Merge


class Add(Merge):
    """The elementwise sum of a list of inputs."""

    def _merge_function(self, inputs):
        output = inputs[0]
        for x in inputs[1:]:
            output = ops.add(output, x)
        return output


def add(inputs, **kwargs):
    """`Add(**kwargs)(inputs)`."""
    return Add(**kwargs)(inputs)
