"""`Cropping1D/2D/3D`: drop entries before and after each spatial axis."""
from graphkit.layers.reshaping.spatial_layer import SpatialLayer, edge_config, edge_pairs


class _Cropping(SpatialLayer):
    def __init__(self, cropping, data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
        self.cropping = edge_pairs(cropping, self.rank, "cropping", type(self).__name__)

    def _check(self, shape):
        """As Keras: something must be left of every known axis."""
        for axis, (before, after) in zip(self.spatial_axes(), self.cropping):
            if shape[axis] is not None and before + after >= shape[axis]:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}': `cropping` must leave something "
                    f"of every spatial axis; it takes {before + after} of axis {axis}. "
                    f"Received: input_shape={tuple(shape)}, "
                    f"cropping={edge_config(self.cropping)}")

    def call(self, inputs):
        self._check(inputs.shape)
        index = [slice(None)] * (self.rank + 2)
        for axis, (before, after) in zip(self.spatial_axes(), self.cropping):
            index[axis] = slice(before, -after if after else None)
        return inputs[tuple(index)]

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        return self.resized_shape(input_shape, lambda i, d: d - sum(self.cropping[i]))

    def get_config(self):
        return {**super().get_config(), "cropping": edge_config(self.cropping)}


class Cropping1D(_Cropping):
    """Crops axis 1 of (batch, steps, features) (Keras's Cropping1D has no data_format)."""
    rank = 1

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(cropping, None, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["data_format"]
        return config


class Cropping2D(_Cropping):
    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


class Cropping3D(_Cropping):
    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)
