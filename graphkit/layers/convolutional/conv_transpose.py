"""Conv1DTranspose, Conv2DTranspose and Conv3DTranspose: `activation(conv_transpose(inputs, kernel) + bias)`.

As in Keras 3 the kernel is `(*kernel_size, filters, in_channels)` and named `kernel`, the
bias is `(filters,)`; the output length per spatial axis is Keras's (JAX backend), with
`output_padding=None` giving `size * strides` for "same" and
`(size - 1) * strides + max(kernel extent, strides)` for "valid".
"""
from graphkit import ops
from graphkit.layers.convolutional.base_conv import BaseConv
from graphkit.layers.pooling.arguments import normalize_tuple
from graphkit.ops.shape_rules import conv_transpose_geometry


class _ConvTranspose(BaseConv):
    _weight_roles = ("kernel", "bias")

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True, **kwargs):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, **kwargs)
        self.filters = self._check_positive_int("filters", filters)
        self.output_padding = self._normalize_output_padding(output_padding)

    def _normalize_output_padding(self, output_padding):
        if output_padding is None:
            return None
        padding = normalize_tuple(output_padding, self.rank, "output_padding", self._where(),
                                  allow_zero=True)
        # Larger paddings would add output positions that no input reaches.
        if any(p >= s for p, s in zip(padding, self.strides)):
            raise ValueError(f"{self._where()}: `output_padding` must be strictly less than "
                             f"`strides` along every axis. Received: "
                             f"output_padding={padding}, strides={self.strides}")
        return padding

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.kernel = self._add_weight_for("kernel", "kernel",
                                           (*self.kernel_size, self.filters, channels))
        self._add_bias(self.filters)
        self._finish_build(channels)

    def call(self, inputs):
        x = ops.conv_transpose(inputs, self.kernel, strides=self.strides, padding=self.padding,
                               output_padding=self.output_padding,
                               data_format=self.data_format, dilation_rate=self.dilation_rate)
        return self._bias_and_activation(x)

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        shape = list(input_shape)
        first = self._first_spatial_axis()
        for i in range(self.rank):
            output_padding = None if self.output_padding is None else self.output_padding[i]
            tail, _ = conv_transpose_geometry(self.kernel_size[i], self.strides[i],
                                              self.dilation_rate[i], self.padding,
                                              output_padding)
            size = shape[first + i]
            shape[first + i] = None if size is None else (size - 1) * self.strides[i] + tail
        shape[self._channel_axis()] = self.filters
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "output_padding": self.output_padding}


class Conv1DTranspose(_ConvTranspose):
    """Transposed 1D convolution over `(batch, steps, channels)` (or channels first), the
    upsampling counterpart of Conv1D: strides 2 with "same" padding doubles the steps."""

    rank = 1


class Conv2DTranspose(_ConvTranspose):
    """Transposed 2D convolution over `(batch, rows, cols, channels)` (or channels first),
    the upsampling step of decoders and segmentation heads."""

    rank = 2


class Conv3DTranspose(_ConvTranspose):
    """Transposed 3D convolution over `(batch, depth, rows, cols, channels)` (or channels
    first), the upsampling step of volumetric decoders."""

    rank = 3
