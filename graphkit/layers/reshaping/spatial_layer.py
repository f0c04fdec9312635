"""The base of the layers that pad, crop or repeat each spatial axis of a batch, and their
per-axis (before, after) arguments."""
from graphkit.layers.input_spec import InputSpec
from graphkit.layers.layer import Layer
from graphkit.layers.pooling.arguments import normalize_data_format


def _is_count(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def edge_pairs(value, rank, arg, layer):
    """Keras's forms -> `rank` (before, after) pairs of non-negative ints:
    an int (every side); for rank 1 a pair (before, after); for rank >= 2 `rank` ints
    (symmetric per axis) or `rank` pairs."""
    if _is_count(value):
        return ((value, value),) * rank
    if isinstance(value, (tuple, list)):
        items = tuple(value)
        if rank == 1 and len(items) == 2 and all(map(_is_count, items)):
            return (items,)
        if rank > 1 and len(items) == rank:
            if all(map(_is_count, items)):
                return tuple((v, v) for v in items)
            if all(isinstance(p, (tuple, list)) and len(p) == 2 and all(map(_is_count, p))
                   for p in items):
                return tuple(tuple(p) for p in items)
    forms = ("a non-negative int or a tuple of 2 ints (before, after)" if rank == 1 else
             f"a non-negative int, a tuple of {rank} ints or a tuple of {rank} tuples of "
             "2 ints")
    raise ValueError(f"{layer}: `{arg}` must be {forms}. Received: {arg}={value!r}")


def edge_config(pairs):
    """The pairs as Keras's configs hold them: (before, after) for rank 1, else the pairs."""
    return pairs[0] if len(pairs) == 1 else pairs


class SpatialLayer(Layer):
    """A weightless layer over inputs of `rank` spatial axes, (batch, *spatial, channels)
    or (batch, channels, *spatial); subclasses set `rank` and act per spatial axis."""

    rank = None

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, type(self).__name__)
        self.input_spec = InputSpec(ndim=self.rank + 2)
        self.built = True

    def spatial_axes(self):
        first = 1 if self.data_format == "channels_last" else 2
        return tuple(range(first, first + self.rank))

    def resized_shape(self, shape, new_size):
        """`shape` with each known spatial size d replaced by `new_size(i, d)`, i the
        spatial axis's index."""
        shape = list(shape)
        for i, axis in enumerate(self.spatial_axes()):
            if shape[axis] is not None:
                shape[axis] = new_size(i, shape[axis])
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}
