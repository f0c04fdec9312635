"""`ZeroPadding1D/2D/3D`: add zeros before and after each spatial axis."""
from graphkit import ops
from graphkit.layers.reshaping.spatial_layer import SpatialLayer, edge_config, edge_pairs


class _ZeroPadding(SpatialLayer):
    def __init__(self, padding, data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
        self.padding = edge_pairs(padding, self.rank, "padding", type(self).__name__)

    def call(self, inputs):
        pads = [(0, 0)] * (self.rank + 2)
        for axis, pair in zip(self.spatial_axes(), self.padding):
            pads[axis] = pair
        return ops.pad(inputs, pads)

    def compute_output_shape(self, input_shape):
        return self.resized_shape(input_shape, lambda i, d: d + sum(self.padding[i]))

    def get_config(self):
        return {**super().get_config(), "padding": edge_config(self.padding)}


class ZeroPadding1D(_ZeroPadding):
    rank = 1

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding2D(_ZeroPadding):
    rank = 2

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding3D(_ZeroPadding):
    rank = 3

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)
