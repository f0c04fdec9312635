"""What every convolution layer shares: the window arguments (kernel_size, strides, padding,
data_format, dilation_rate), the channel axis, the initializer/regularizer/constraint of each
weight, the bias and activation, and Keras's output shape of a (not transposed) convolution.
"""
from graphkit import activations, constraints, initializers, ops, regularizers
from graphkit.layers.input_spec import InputSpec
from graphkit.layers.layer import Layer
from graphkit.layers.pooling.arguments import (check_output_size, set_conv_window,
                                               window_output_length)
from graphkit.layers.weight_options import weight_options_config


class BaseConv(Layer):
    """Each weight role in `_weight_roles` ("kernel", "depthwise", "bias"...) takes Keras's
    keyword arguments `{role}_initializer` (default "glorot_uniform", "zeros" for the bias),
    `{role}_regularizer` and `{role}_constraint`, which are also its attribute and config
    names."""

    rank = None
    _paddings = ("valid", "same")
    _weight_roles = ()

    def __init__(self, kernel_size, strides, padding, data_format, dilation_rate, activation,
                 use_bias, **kwargs):
        options = [self._pop_weight_options(role, kwargs) for role in self._weight_roles]
        super().__init__(**kwargs)  # rejects arguments no role took
        for role, (initializer, regularizer, constraint) in zip(self._weight_roles, options):
            setattr(self, f"{role}_initializer", initializers.get(initializer))
            setattr(self, f"{role}_regularizer", regularizers.get(regularizer))
            setattr(self, f"{role}_constraint", constraints.get(constraint))
        set_conv_window(self, self._where(), kernel_size, strides, dilation_rate, padding,
                        data_format, self._paddings)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.input_spec = InputSpec(min_ndim=self.rank + 2)

    def _where(self):
        return f"{type(self).__name__} '{self.name}'"

    def _check_positive_int(self, arg, value):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{self._where()}: `{arg}` must be a positive integer. "
                             f"Received: {arg}={value!r}")
        return value

    # -- weights: Keras names each weight's options `{role}_initializer` and so on --------

    @staticmethod
    def _pop_weight_options(role, kwargs):
        default = "zeros" if role == "bias" else "glorot_uniform"
        return (kwargs.pop(f"{role}_initializer", default),
                kwargs.pop(f"{role}_regularizer", None), kwargs.pop(f"{role}_constraint", None))

    def _weight_options_config(self):
        return weight_options_config(self, self._weight_roles)

    def _add_weight_for(self, role, name, shape):
        return self.add_weight(name=name, shape=shape,
                               initializer=getattr(self, f"{role}_initializer"),
                               regularizer=getattr(self, f"{role}_regularizer"),
                               constraint=getattr(self, f"{role}_constraint"))

    def _add_bias(self, units):
        self.bias = self._add_weight_for("bias", "bias", (units,)) if self.use_bias else None

    # -- shapes ---------------------------------------------------------------------------

    def _channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def _first_spatial_axis(self):
        return 1 if self.data_format == "channels_last" else 2

    def _input_channels(self, input_shape):
        channels = input_shape[self._channel_axis()]
        if channels is None:
            raise ValueError(f"{self._where()}: the channel dimension of the inputs must be "
                             f"known. Received: input_shape={tuple(input_shape)}")
        return channels

    def _finish_build(self, channels):
        self.input_spec = InputSpec(min_ndim=self.rank + 2,
                                    axes={self._channel_axis(): channels})
        self.built = True

    def _check_rank(self, input_shape):
        if len(input_shape) != self.rank + 2:  # the input spec only bounds the rank from below
            raise ValueError(f"{self._where()}: expected inputs of rank {self.rank + 2}, "
                             f"(batch, *spatial, channels) with {self.rank} spatial axes. "
                             f"Received: input_shape={tuple(input_shape)}")

    def _conv_output_shape(self, input_shape, channels):
        """Keras's output shape of a sliding-window conv with `channels` output channels;
        with 'valid' padding a window longer than a known input dim is an error."""
        self._check_rank(input_shape)
        shape = list(input_shape)
        first = self._first_spatial_axis()
        padding = "same" if self.padding == "causal" else self.padding
        for i in range(self.rank):
            shape[first + i] = window_output_length(
                shape[first + i], self.kernel_size[i], self.strides[i], padding,
                self.dilation_rate[i])
        check_output_size(self._where(), input_shape, shape[first:first + self.rank],
                          self.padding, kernel_size=self.kernel_size, strides=self.strides,
                          dilation_rate=self.dilation_rate)
        shape[self._channel_axis()] = channels
        return tuple(shape)

    # -- call -----------------------------------------------------------------------------

    def _bias_and_activation(self, x):
        if self.bias is not None:
            bias = self.bias
            if self.data_format == "channels_first":
                bias = ops.reshape(bias, (bias.shape[0],) + (1,) * self.rank)
            x = ops.add(x, bias)
        return self.activation(x)

    def get_config(self):
        return {
            **super().get_config(),
            "kernel_size": self.kernel_size, "strides": self.strides, "padding": self.padding,
            "data_format": self.data_format, "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            **self._weight_options_config(),
        }
