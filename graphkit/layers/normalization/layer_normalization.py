"""`LayerNormalization`: normalizes each example over the feature axes (Ba et al., 2016)."""
from graphkit import dtypes, ops
from graphkit.layers.layer import Layer
from graphkit.layers.normalization.arguments import (add_affine_weight, affine_config,
                                                     axis_argument, normalized_axes,
                                                     set_affine_arguments)


class LayerNormalization(Layer):
    """`(x - mean) / sqrt(var + epsilon) * gamma + beta`, the statistics taken over `axis`
    (an int or a list) of each example; `gamma` and `beta` span those axes.

    With `rms_scaling=True`, `x / sqrt(var + epsilon) * gamma` (Keras's form: the variance,
    not the mean square, and no `beta`).
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, rms_scaling=False,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.axis = axis_argument(axis, "LayerNormalization")
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.rms_scaling = rms_scaling
        set_affine_arguments(self, beta_initializer, gamma_initializer, beta_regularizer,
                             gamma_regularizer, beta_constraint, gamma_constraint)
        self.supports_masking = True
        self.autocast = False

    def _axes(self, ndim):
        return normalized_axes(self, ndim)

    def build(self, input_shape):
        axes = self._axes(len(input_shape))
        shape = tuple(input_shape[a] for a in axes)
        if None in shape:
            raise ValueError(
                f"LayerNormalization '{self.name}': the normalized axes {axes} must have "
                f"known sizes. Received: input_shape={tuple(input_shape)}")
        if isinstance(self.axis, int):
            self.axis = [self.axis]  # as Keras: a list once built
        self.gamma = add_affine_weight(self, "gamma", shape) \
            if (self.scale or self.rms_scaling) else None
        self.beta = add_affine_weight(self, "beta", shape) \
            if (self.center and not self.rms_scaling) else None
        self.built = True

    def call(self, inputs):
        inputs = ops.cast(inputs, self.compute_dtype)
        input_dtype = inputs.dtype
        # As Keras, in at least float32, float16 policies included: in half precision the
        # variance overflows and `x * inv + shift` cancels away the result.
        inputs = ops.cast(inputs, dtypes.result_type(input_dtype, "float32"))
        ndim = len(inputs.shape)
        axes = self._axes(ndim)
        broadcast_shape = [1] * ndim
        for a in axes:
            broadcast_shape[a] = inputs.shape[a]

        def broadcast(v):
            if v is None:
                return None
            return ops.reshape(ops.cast(v, inputs.dtype), broadcast_shape)

        if self.rms_scaling:
            variance = ops.var(inputs, axis=axes, keepdims=True)
            outputs = ops.multiply(ops.multiply(inputs, ops.rsqrt(
                ops.add(variance, self.epsilon))), broadcast(self.gamma))
        else:
            mean, variance = ops.moments(inputs, axes=axes, keepdims=True)
            inv = ops.rsqrt(ops.add(variance, self.epsilon))
            gamma, beta = broadcast(self.gamma), broadcast(self.beta)
            if gamma is not None:
                inv = ops.multiply(inv, gamma)
            # x * inv + (beta - mean * inv): Keras's arrangement of the same formula.
            shift = ops.negative(ops.multiply(mean, inv))
            if beta is not None:
                shift = ops.add(shift, beta)
            outputs = ops.add(ops.multiply(inputs, inv), shift)
        return ops.cast(outputs, input_dtype)

    def compute_output_shape(self, input_shape):
        self._axes(len(input_shape))
        return input_shape

    def get_config(self):
        config = {
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "rms_scaling": self.rms_scaling,
            **affine_config(self),
        }
        return {**super().get_config(), **config}
