"""SeparableConv1D and SeparableConv2D: a depthwise conv, then a 1x1 (pointwise) conv mixing
the channels into `filters`, then `activation(... + bias)`.

As in Keras 3 the weights are, in this order, `depthwise_kernel`
`(*kernel_size, in_channels, depth_multiplier)`, `pointwise_kernel`
`(*(1,) * rank, in_channels * depth_multiplier, filters)` and `bias` `(filters,)`. Strides,
padding and dilation belong to the depthwise step.
"""
from graphkit import ops
from graphkit.layers.convolutional.base_conv import BaseConv


class _SeparableConv(BaseConv):
    _weight_roles = ("depthwise", "pointwise", "bias")

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 **kwargs):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, **kwargs)
        self.filters = self._check_positive_int("filters", filters)
        self.depth_multiplier = self._check_positive_int("depth_multiplier", depth_multiplier)

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.compute_output_shape(input_shape)  # as Keras: no zero-size output
        self.depthwise_kernel = self._add_weight_for(
            "depthwise", "depthwise_kernel",
            (*self.kernel_size, channels, self.depth_multiplier))
        self.pointwise_kernel = self._add_weight_for(
            "pointwise", "pointwise_kernel",
            (1,) * self.rank + (channels * self.depth_multiplier, self.filters))
        self._add_bias(self.filters)
        self._finish_build(channels)

    def call(self, inputs):
        x = ops.depthwise_conv(inputs, self.depthwise_kernel, strides=self.strides,
                               padding=self.padding, data_format=self.data_format,
                               dilation_rate=self.dilation_rate)
        x = ops.conv(x, self.pointwise_kernel, data_format=self.data_format)
        return self._bias_and_activation(x)

    def compute_output_shape(self, input_shape):
        return self._conv_output_shape(input_shape, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "depth_multiplier": self.depth_multiplier}


class SeparableConv1D(_SeparableConv):
    """Depthwise-separable 1D convolution over `(batch, steps, channels)` (or channels
    first)."""

    rank = 1


class SeparableConv2D(_SeparableConv):
    """Depthwise-separable 2D convolution over `(batch, rows, cols, channels)` (or channels
    first): far fewer weights than a Conv2D of the same kernel size (Xception, MobileNet)."""

    rank = 2
