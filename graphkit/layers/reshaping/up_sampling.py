"""`UpSampling1D/2D/3D`: repeat every entry of each spatial axis (nearest neighbour)."""
from graphkit import ops
from graphkit.layers.pooling.arguments import normalize_tuple
from graphkit.layers.reshaping.spatial_layer import SpatialLayer


class _UpSampling(SpatialLayer):
    def __init__(self, size, data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
        self.size = normalize_tuple(size, self.rank, "size", type(self).__name__)

    def call(self, inputs):
        x = inputs
        for axis, factor in zip(self.spatial_axes(), self.size):
            x = ops.repeat(x, factor, axis=axis)
        return x

    def compute_output_shape(self, input_shape):
        return self.resized_shape(input_shape, lambda i, d: d * self.size[i])

    def get_config(self):
        return {**super().get_config(), "size": self.size}


class UpSampling1D(_UpSampling):
    """Repeats the steps of (batch, steps, features); `size` is an int, as in Keras."""
    rank = 1

    def __init__(self, size=2, **kwargs):
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError(f"UpSampling1D: `size` must be an int. Received: size={size!r}")
        super().__init__(size, None, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["data_format"]
        return {**config, "size": self.size[0]}


class UpSampling2D(_UpSampling):
    rank = 2

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(size, data_format, **kwargs)
        if interpolation != "nearest":
            raise ValueError("UpSampling2D: only `interpolation='nearest'` is available. "
                             f"Received: interpolation={interpolation!r}")
        self.interpolation = interpolation

    def get_config(self):
        return {**super().get_config(), "interpolation": self.interpolation}


class UpSampling3D(_UpSampling):
    rank = 3

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(size, data_format, **kwargs)
