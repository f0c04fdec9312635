"""Conv1D and Conv2D: `activation(conv(inputs, kernel) + bias)` with Keras 3's weights.

The kernel is `(*kernel_size, in_channels // groups, filters)` and named `kernel`; the bias
is `(filters,)` and named `bias`, so `set_weights(keras_layer.get_weights())` works.
"""
from graphkit import activations, constraints, initializers, ops, regularizers
from graphkit.layers.input_spec import InputSpec
from graphkit.layers.layer import Layer
from graphkit.layers.pooling.arguments import (check_output_size, normalize_data_format,
                                               normalize_padding, normalize_tuple,
                                               window_output_length)


class _Conv(Layer):
    rank = None
    _paddings = ("valid", "same")

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        where = f"{type(self).__name__} '{self.name}'"
        for arg, value in (("filters", filters), ("groups", groups)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{where}: `{arg}` must be a positive integer. "
                                 f"Received: {arg}={value!r}")
        if filters % groups:
            raise ValueError(f"{where}: `filters` must be divisible by `groups`. "
                             f"Received: filters={filters}, groups={groups}")
        self.filters, self.groups = filters, groups
        self.kernel_size = normalize_tuple(kernel_size, self.rank, "kernel_size", where)
        self.strides = normalize_tuple(strides, self.rank, "strides", where)
        self.dilation_rate = normalize_tuple(dilation_rate, self.rank, "dilation_rate", where)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{where}: `strides` > 1 is not compatible with "
                             f"`dilation_rate` > 1. Received: strides={self.strides}, "
                             f"dilation_rate={self.dilation_rate}")
        self.padding = normalize_padding(padding, where, self._paddings)
        self.data_format = normalize_data_format(data_format, where)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(min_ndim=self.rank + 2)

    def _channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def build(self, input_shape):
        channels = input_shape[self._channel_axis()]
        where = f"{type(self).__name__} '{self.name}'"
        if channels is None:
            raise ValueError(f"{where}: the channel dimension of the inputs must be known. "
                             f"Received: input_shape={tuple(input_shape)}")
        if channels % self.groups:
            raise ValueError(f"{where}: the number of input channels ({channels}) must be "
                             f"divisible by `groups` ({self.groups}). "
                             f"Received: input_shape={tuple(input_shape)}")
        self.compute_output_shape(input_shape)  # as Keras: no zero-size output
        self.kernel = self.add_weight(
            name="kernel", shape=(*self.kernel_size, channels // self.groups, self.filters),
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.filters,), initializer=self.bias_initializer,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.input_spec = InputSpec(min_ndim=self.rank + 2,
                                    axes={self._channel_axis(): channels})
        self.built = True

    def _convolve(self, inputs):
        return ops.conv(inputs, self.kernel, strides=self.strides, padding=self.padding,
                        data_format=self.data_format, dilation_rate=self.dilation_rate)

    def call(self, inputs):
        x = self._convolve(inputs)
        if self.bias is not None:
            bias = self.bias
            if self.data_format == "channels_first":
                bias = ops.reshape(bias, (self.filters,) + (1,) * self.rank)
            x = ops.add(x, bias)
        return self.activation(x)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        if len(shape) != self.rank + 2:  # the input spec only bounds the rank from below
            raise ValueError(f"{type(self).__name__} '{self.name}': expected inputs of rank "
                             f"{self.rank + 2}, (batch, *spatial, channels) with {self.rank} "
                             f"spatial axes. Received: input_shape={tuple(input_shape)}")
        first = 1 if self.data_format == "channels_last" else 2
        for i in range(self.rank):
            padding = "same" if self.padding == "causal" else self.padding
            shape[first + i] = window_output_length(
                shape[first + i], self.kernel_size[i], self.strides[i], padding,
                self.dilation_rate[i])
        check_output_size(f"{type(self).__name__} '{self.name}'", input_shape,
                          shape[first:first + self.rank], self.padding,
                          kernel_size=self.kernel_size, strides=self.strides,
                          dilation_rate=self.dilation_rate)
        shape[self._channel_axis()] = self.filters
        return tuple(shape)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
            "padding": self.padding, "data_format": self.data_format,
            "dilation_rate": self.dilation_rate, "groups": self.groups,
            "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }


class Conv1D(_Conv):
    """1D convolution over `(batch, steps, channels)`; `padding="causal"` left-pads so that
    output step t sees only input steps <= t."""

    rank = 1
    _paddings = ("valid", "same", "causal")

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         groups, activation, use_bias, **kwargs)

    def _convolve(self, inputs):
        if self.padding != "causal":
            return super()._convolve(inputs)
        left = self.dilation_rate[0] * (self.kernel_size[0] - 1)
        steps_axis = 1 if self.data_format == "channels_last" else 2
        pads = [(0, 0)] * 3
        pads[steps_axis] = (left, 0)
        x = ops.pad(inputs, pads)
        return ops.conv(x, self.kernel, strides=self.strides, padding="valid",
                        data_format=self.data_format, dilation_rate=self.dilation_rate)


class Conv2D(_Conv):
    """2D convolution over `(batch, rows, cols, channels)` (or channels first)."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 data_format=None, dilation_rate=(1, 1), groups=1, activation=None,
                 use_bias=True, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         groups, activation, use_bias, **kwargs)
