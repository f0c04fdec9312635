"""AdaptiveAveragePooling1D/2D/3D and AdaptiveMaxPooling1D/2D/3D: pool to a fixed
`output_size` whatever the input size.

Keras 3's bins: output position i of an axis of length L pooled to n reduces the input
positions [floor(i * L / n), ceil((i + 1) * L / n)), so neighbouring bins overlap by one
when n does not divide L. Keras pools one spatial axis after the other; a bin is a box, so
the mean of the per-axis means is the box's mean and the max of maxes its max.

The input sizes are static at call time, so each axis is a concatenation of one reduction
per bin over a slice: ordinary ops, which compile and differentiate like any others.
"""
from graphkit import ops
from graphkit.layers.input_spec import InputSpec
from graphkit.layers.layer import Layer
from graphkit.layers.pooling.arguments import normalize_data_format, normalize_tuple


def adaptive_bins(length, output_length):
    """The [start, end) of each output position's bin along one axis: Keras's formula in
    exact integer arithmetic. (Keras on JAX/XLA divides in float32 by a reciprocal, so for
    some sizes, e.g. 7 -> 7, its ceil overshoots: a wrong window, NaN in the last bin.)"""
    return [((i * length) // output_length, -(-(i + 1) * length // output_length))
            for i in range(output_length)]


class _AdaptivePooling(Layer):
    """Base of the adaptive pooling layers; `rank` spatial axes, `_reduce_op` the per-bin
    reduction (`ops.mean` or `ops.max`), set by the two bases below."""

    rank = None
    _reduce_op = None

    def __init__(self, output_size, data_format=None, **kwargs):
        super().__init__(**kwargs)
        where = type(self).__name__
        self.output_size = normalize_tuple(output_size, self.rank, "output_size", where)
        self.data_format = normalize_data_format(data_format, where)
        self.input_spec = InputSpec(ndim=self.rank + 2)
        self.built = True

    def _spatial_axes(self):
        first = 1 if self.data_format == "channels_last" else 2
        return tuple(range(first, first + self.rank))

    def call(self, inputs):
        x = ops.convert_to_tensor(inputs)
        for axis, output_length in zip(self._spatial_axes(), self.output_size):
            x = self._pool_axis(x, axis, output_length)
        return x

    def _pool_axis(self, x, axis, output_length):
        length = x.shape[axis]
        if length is None:  # the bins are slices, which need the length
            raise ValueError(f"{type(self).__name__} '{self.name}': the spatial dimensions of "
                             f"the inputs must be known when the layer is called. "
                             f"Received: input_shape={tuple(x.shape)}")
        starts, sizes = [0] * x.ndim, [-1] * x.ndim
        bins = []
        for start, end in adaptive_bins(length, output_length):
            starts[axis], sizes[axis] = start, end - start
            bins.append(type(self)._reduce_op(ops.slice(x, starts, sizes), axis=axis,
                                              keepdims=True))
        return ops.concatenate(bins, axis=axis)

    def compute_output_shape(self, input_shape):
        # As Keras: the output size does not depend on the (possibly unknown) input size.
        shape = list(input_shape)
        for axis, output_length in zip(self._spatial_axes(), self.output_size):
            shape[axis] = output_length
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size,
                "data_format": self.data_format}


class _AdaptiveAveragePooling(_AdaptivePooling):
    _reduce_op = staticmethod(ops.mean)


class _AdaptiveMaxPooling(_AdaptivePooling):
    _reduce_op = staticmethod(ops.max)


class AdaptiveAveragePooling1D(_AdaptiveAveragePooling):
    """Mean over bins of the steps of `(batch, steps, channels)` (or channels first)."""

    rank = 1


class AdaptiveAveragePooling2D(_AdaptiveAveragePooling):
    """Mean over bins of `(batch, rows, cols, channels)`: e.g. a fixed-size head input."""

    rank = 2


class AdaptiveAveragePooling3D(_AdaptiveAveragePooling):
    """Mean over bins of `(batch, depth, rows, cols, channels)` (or channels first)."""

    rank = 3


class AdaptiveMaxPooling1D(_AdaptiveMaxPooling):
    """Max over bins of the steps of `(batch, steps, channels)` (or channels first)."""

    rank = 1


class AdaptiveMaxPooling2D(_AdaptiveMaxPooling):
    """Max over bins of `(batch, rows, cols, channels)` (or channels first)."""

    rank = 2


class AdaptiveMaxPooling3D(_AdaptiveMaxPooling):
    """Max over bins of `(batch, depth, rows, cols, channels)` (or channels first)."""

    rank = 3
