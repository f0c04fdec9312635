"""`Minimum` and its functional form `minimum`."""
from graphkit import ops
from graphkit.layers.merging.base_merge import Merge, fold


class Minimum(Merge):
    """The elementwise minimum of a list of inputs."""

    def _merge_function(self, inputs):
        return fold(ops.minimum, inputs)


def minimum(inputs, **kwargs):
    """`Minimum(**kwargs)(inputs)`."""
    return Minimum(**kwargs)(inputs)
