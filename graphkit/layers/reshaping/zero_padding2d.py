"""`ZeroPadding2D`: adds rows and columns of zeros around an image."""
from graphkit import ops
from graphkit.layers.input_spec import InputSpec
from graphkit.layers.layer import Layer
from graphkit.layers.pooling.arguments import normalize_data_format


def _padding_pairs(padding):
    """int | (rows, cols) | ((top, bottom), (left, right)) -> ((t, b), (l, r)), or None."""
    def is_count(v):
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    if is_count(padding):
        return ((padding, padding), (padding, padding))
    if isinstance(padding, (tuple, list)) and len(padding) == 2:
        if all(is_count(p) for p in padding):
            return ((padding[0], padding[0]), (padding[1], padding[1]))
        if all(isinstance(p, (tuple, list)) and len(p) == 2 and all(map(is_count, p))
               for p in padding):
            return (tuple(padding[0]), tuple(padding[1]))
    return None


class ZeroPadding2D(Layer):
    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _padding_pairs(padding)
        if self.padding is None:
            raise ValueError(
                "ZeroPadding2D: `padding` must be a non-negative int, a tuple of 2 ints or a "
                f"tuple of 2 tuples of 2 ints. Received: padding={padding!r}")
        self.data_format = normalize_data_format(data_format, "ZeroPadding2D")
        self.input_spec = InputSpec(ndim=4)
        self.built = True

    def _spatial_axes(self):
        return (1, 2) if self.data_format == "channels_last" else (2, 3)

    def call(self, inputs):
        pads = [(0, 0)] * 4
        for axis, pair in zip(self._spatial_axes(), self.padding):
            pads[axis] = pair
        return ops.pad(inputs, pads)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, (lo, hi) in zip(self._spatial_axes(), self.padding):
            if shape[axis] is not None:
                shape[axis] += lo + hi
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding,
                "data_format": self.data_format}
