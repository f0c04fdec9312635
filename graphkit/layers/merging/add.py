"""`Add` and its functional form `add`."""
from graphkit import ops
from graphkit.layers.merging.base_merge import Merge, fold


class Add(Merge):
    """The elementwise sum of a list of inputs."""

    def _merge_function(self, inputs):
        return fold(ops.add, inputs)


def add(inputs, **kwargs):
    """`Add(**kwargs)(inputs)`."""
    return Add(**kwargs)(inputs)
