"""MaxPooling1D/2D and AveragePooling1D/2D: pooling over sliding windows."""
from graphkit import ops
from graphkit.layers.input_spec import InputSpec
from graphkit.layers.layer import Layer
from graphkit.layers.pooling.arguments import (check_output_size, normalize_data_format,
                                               normalize_padding, normalize_tuple,
                                               window_output_length)


class _Pooling(Layer):
    """Base of the windowed pooling layers; `rank` spatial axes, `_pool_op` the op."""

    rank = None
    _pool_op = None

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        where = type(self).__name__
        self.pool_size = normalize_tuple(pool_size, self.rank, "pool_size", where)
        strides = pool_size if strides is None else strides
        self.strides = normalize_tuple(strides, self.rank, "strides", where)
        self.padding = normalize_padding(padding, where)
        self.data_format = normalize_data_format(data_format, where)
        self.input_spec = InputSpec(ndim=self.rank + 2)
        self.built = True

    def call(self, inputs):
        return type(self)._pool_op(inputs, self.pool_size, self.strides, self.padding,
                                   self.data_format)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        first = 1 if self.data_format == "channels_last" else 2
        for i in range(self.rank):
            shape[first + i] = window_output_length(shape[first + i], self.pool_size[i],
                                                    self.strides[i], self.padding)
        check_output_size(f"{type(self).__name__} '{self.name}'", input_shape,
                          shape[first:first + self.rank], self.padding,
                          pool_size=self.pool_size, strides=self.strides)
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "padding": self.padding,
                "strides": self.strides, "data_format": self.data_format}


class MaxPooling1D(_Pooling):
    rank = 1
    _pool_op = staticmethod(ops.max_pool)

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class MaxPooling2D(_Pooling):
    rank = 2
    _pool_op = staticmethod(ops.max_pool)

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class AveragePooling1D(_Pooling):
    rank = 1
    _pool_op = staticmethod(ops.average_pool)

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class AveragePooling2D(_Pooling):
    rank = 2
    _pool_op = staticmethod(ops.average_pool)

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class MaxPooling3D(_Pooling):
    rank = 3
    _pool_op = staticmethod(ops.max_pool)

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)


class AveragePooling3D(_Pooling):
    rank = 3
    _pool_op = staticmethod(ops.average_pool)

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name, **kwargs)
