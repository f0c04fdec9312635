"""`Maximum` and its functional form `maximum`."""
from graphkit import ops
from graphkit.layers.merging.base_merge import Merge, fold


class Maximum(Merge):
    """The elementwise maximum of a list of inputs."""

    def _merge_function(self, inputs):
        return fold(ops.maximum, inputs)


def maximum(inputs, **kwargs):
    """`Maximum(**kwargs)(inputs)`."""
    return Maximum(**kwargs)(inputs)
