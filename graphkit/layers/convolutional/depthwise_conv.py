"""DepthwiseConv1D and DepthwiseConv2D: each input channel convolved with its own
`depth_multiplier` filters, then `activation(... + bias)`.

As in Keras 3 the kernel is `(*kernel_size, in_channels, depth_multiplier)` and named
`kernel`; the bias is `(in_channels * depth_multiplier,)`, and output channel
`c * depth_multiplier + m` is input channel c's m-th filter.
"""
from graphkit import ops
from graphkit.layers.convolutional.base_conv import BaseConv


class _DepthwiseConv(BaseConv):
    _weight_roles = ("depthwise", "bias")

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True, **kwargs):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, **kwargs)
        self.depth_multiplier = self._check_positive_int("depth_multiplier", depth_multiplier)

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.compute_output_shape(input_shape)  # as Keras: no zero-size output
        self.kernel = self._add_weight_for(
            "depthwise", "kernel", (*self.kernel_size, channels, self.depth_multiplier))
        self._add_bias(channels * self.depth_multiplier)
        self._finish_build(channels)

    def call(self, inputs):
        x = ops.depthwise_conv(inputs, self.kernel, strides=self.strides, padding=self.padding,
                               data_format=self.data_format, dilation_rate=self.dilation_rate)
        return self._bias_and_activation(x)

    def compute_output_shape(self, input_shape):
        channels = input_shape[self._channel_axis()]
        out_channels = None if channels is None else channels * self.depth_multiplier
        return self._conv_output_shape(input_shape, out_channels)

    def get_config(self):
        return {**super().get_config(), "depth_multiplier": self.depth_multiplier}


class DepthwiseConv1D(_DepthwiseConv):
    """Depthwise 1D convolution over `(batch, steps, channels)` (or channels first)."""

    rank = 1


class DepthwiseConv2D(_DepthwiseConv):
    """Depthwise 2D convolution over `(batch, rows, cols, channels)` (or channels first)."""

    rank = 2
