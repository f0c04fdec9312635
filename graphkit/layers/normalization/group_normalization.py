"""`GroupNormalization`: normalizes each example over groups of channels (Wu & He, 2018)."""
from graphkit import dtypes, ops
from graphkit.layers.input_spec import InputSpec
from graphkit.layers.layer import Layer
from graphkit.layers.normalization.arguments import (add_affine_weight, affine_config,
                                                     set_affine_arguments)


class GroupNormalization(Layer):
    """The channels of `axis` split into `groups`; each example's mean and variance are
    taken over every non-batch axis of one group, then `gamma` and `beta` (one per channel)
    scale and shift: `(x - mean) / sqrt(var + epsilon) * gamma + beta`.

    `groups=-1` makes one group per channel (instance normalization); `groups=1` one group
    over all channels (layer normalization over every non-batch axis).
    """

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 **kwargs):
        if isinstance(groups, bool) or not isinstance(groups, int) or (
                groups <= 0 and groups != -1):
            raise ValueError("GroupNormalization: `groups` must be a positive integer (or -1 "
                             f"for instance normalization). Received: groups={groups!r}")
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"GroupNormalization: `axis` must be an int, received {axis!r}")
        super().__init__(**kwargs)
        self.groups, self.axis, self.epsilon = groups, axis, epsilon
        self.center, self.scale = center, scale
        set_affine_arguments(self, beta_initializer, gamma_initializer, beta_regularizer,
                             gamma_regularizer, beta_constraint, gamma_constraint)
        self.supports_masking = True
        self.autocast = False

    def _axis(self, ndim):
        if not -ndim <= self.axis < ndim:
            raise ValueError(
                f"GroupNormalization '{self.name}': axis {self.axis} is out of range for "
                f"inputs of rank {ndim}")
        return self.axis % ndim

    def build(self, input_shape):
        ndim = len(input_shape)
        channels = input_shape[self._axis(ndim)]
        if channels is None:
            raise ValueError(
                f"GroupNormalization '{self.name}': the size of axis {self.axis} must be "
                f"known. Received: input_shape={tuple(input_shape)}")
        if self.groups == -1:
            self.groups = channels  # as Keras: instance normalization, in the config too
        if channels < self.groups or channels % self.groups:
            raise ValueError(
                f"GroupNormalization '{self.name}': the {channels} channels of axis "
                f"{self.axis} must split into groups={self.groups} equal groups. "
                f"Received: input_shape={tuple(input_shape)}")
        self.input_spec = InputSpec(ndim=ndim, axes={self.axis: channels})
        shape = (channels,)
        self.gamma = add_affine_weight(self, "gamma", shape) if self.scale else None
        self.beta = add_affine_weight(self, "beta", shape) if self.center else None
        self.built = True

    def _grouped_shape(self, shape, axis):
        """`shape` with the channels axis split into (groups, channels // groups)."""
        shape = list(shape)
        return shape[:axis] + [self.groups, shape[axis] // self.groups] + shape[axis + 1:]

    def call(self, inputs):
        input_dtype = inputs.dtype
        # As Keras: statistics in at least float32 (half-precision variances overflow).
        inputs = ops.cast(inputs, dtypes.result_type(input_dtype, "float32"))
        axis = self._axis(len(inputs.shape))
        grouped = ops.reshape(inputs, self._grouped_shape(inputs.shape, axis))
        # Every axis but the batch and the group axis.
        reduction_axes = [a for a in range(1, len(grouped.shape)) if a != axis]
        mean, variance = ops.moments(grouped, axes=reduction_axes, keepdims=True)
        # gamma and beta, (channels,), broadcast against the grouped inputs.
        per_channel = [1] * len(grouped.shape)
        per_channel[axis:axis + 2] = grouped.shape[axis:axis + 2]
        inv = ops.rsqrt(ops.add(variance, self.epsilon))
        if self.scale:
            inv = ops.multiply(inv, ops.reshape(ops.cast(self.gamma, grouped.dtype),
                                                per_channel))
        # x * inv + (beta - mean * inv): Keras's arrangement of the same formula.
        shift = ops.negative(ops.multiply(mean, inv))
        if self.center:
            shift = ops.add(shift, ops.reshape(ops.cast(self.beta, grouped.dtype),
                                               per_channel))
        outputs = ops.add(ops.multiply(grouped, inv), shift)
        outputs = ops.cast(ops.reshape(outputs, inputs.shape), input_dtype)
        return ops.cast(outputs, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        self._axis(len(input_shape))
        return input_shape

    def get_config(self):
        config = {key: getattr(self, key)
                  for key in ("groups", "axis", "epsilon", "center", "scale")}
        return {**super().get_config(), **config, **affine_config(self)}
