"""`Dense`: `activation(inputs @ kernel + bias)`, with Keras 3's weights and config."""
from graphkit import activations, constraints, initializers, ops, regularizers
from graphkit.layers.input_spec import InputSpec
from graphkit.layers import keras_options
from graphkit.layers.layer import Layer
from graphkit.layers.weight_options import weight_options_config


class Dense(Layer):
    """A densely-connected layer.

    The kernel has shape `(input_dim, units)` and contracts the last axis of the inputs,
    so inputs of rank > 2 are transformed on every sub-tensor along the last axis.
    Weights, in Keras's order: `kernel`, then `bias` (when `use_bias`).
    """

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise ValueError(
                "Dense: received an invalid value for `units`, expected a positive integer. "
                f"Received: units={units!r}")
        keras_options.take_default_options("Dense", kwargs, keras_options.QUANTIZATION)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(min_ndim=2)
        self.supports_masking = True

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"Dense '{self.name}': the last dimension of the inputs must be known to "
                f"build the kernel. Received: input_shape={tuple(input_shape)}")
        self.kernel = self.add_weight(
            name="kernel", shape=(input_dim, self.units), initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.units,), initializer=self.bias_initializer,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        else:
            self.bias = None
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})
        self.built = True

    def call(self, inputs, training=None):
        x = ops.matmul(inputs, self.kernel)
        if self.bias is not None:
            x = ops.add(x, self.bias)
        return self.activation(x)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.units)

    def get_config(self):
        config = {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            **weight_options_config(self, ("kernel", "bias")),
        }
        return {**super().get_config(), **config, **keras_options.QUANTIZATION}
