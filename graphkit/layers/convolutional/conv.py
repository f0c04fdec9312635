"""Conv1D, Conv2D and Conv3D: `activation(conv(inputs, kernel) + bias)` with Keras 3's weights.

The kernel is `(*kernel_size, in_channels // groups, filters)` and named `kernel`; the bias
is `(filters,)` and named `bias`, so `set_weights(keras_layer.get_weights())` works.
"""
from graphkit import ops
from graphkit.layers.convolutional.base_conv import BaseConv


class _Conv(BaseConv):
    _weight_roles = ("kernel", "bias")

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True, **kwargs):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, **kwargs)
        self.filters = self._check_positive_int("filters", filters)
        self.groups = self._check_positive_int("groups", groups)
        if filters % groups:
            raise ValueError(f"{self._where()}: `filters` must be divisible by `groups`. "
                             f"Received: filters={filters}, groups={groups}")

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        if channels % self.groups:
            raise ValueError(f"{self._where()}: the number of input channels ({channels}) "
                             f"must be divisible by `groups` ({self.groups}). "
                             f"Received: input_shape={tuple(input_shape)}")
        self.compute_output_shape(input_shape)  # as Keras: no zero-size output
        self.kernel = self._add_weight_for(
            "kernel", "kernel", (*self.kernel_size, channels // self.groups, self.filters))
        self._add_bias(self.filters)
        self._finish_build(channels)

    def _convolve(self, inputs):
        return ops.conv(inputs, self.kernel, strides=self.strides, padding=self.padding,
                        data_format=self.data_format, dilation_rate=self.dilation_rate)

    def call(self, inputs):
        return self._bias_and_activation(self._convolve(inputs))

    def compute_output_shape(self, input_shape):
        return self._conv_output_shape(input_shape, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "groups": self.groups}


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
        pads = [(0, 0)] * 3
        pads[self._first_spatial_axis()] = (left, 0)
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


class Conv3D(_Conv):
    """3D convolution over `(batch, depth, rows, cols, channels)` (or channels first)."""

    rank = 3

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid",
                 data_format=None, dilation_rate=(1, 1, 1), groups=1, activation=None,
                 use_bias=True, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         groups, activation, use_bias, **kwargs)
