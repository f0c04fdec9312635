"""`BatchNormalization`: normalizes with batch statistics in training and with moving
statistics at inference, as Keras 3 does."""
from graphkit import config, dtypes, initializers, ops
from graphkit.layers.input_spec import InputSpec
from graphkit.layers import keras_options
from graphkit.layers.layer import Layer
from graphkit.layers.normalization.arguments import (add_affine_weight, affine_config,
                                                     set_affine_arguments)


class BatchNormalization(Layer):
    """`gamma * (x - mean) / sqrt(var + epsilon) + beta` along `axis`.

    - training (`training=True` and the layer trainable): mean and *biased* variance of
      the batch, and the moving statistics are updated:
      `moving = moving * momentum + batch_stat * (1 - momentum)`.
    - otherwise: `moving_mean` and `moving_variance`.
    Weights, in Keras's order: `gamma`, `beta` (trainable, when `scale`/`center`),
    `moving_mean`, `moving_variance` (non-trainable). A mask (one dimension fewer than the
    inputs) excludes masked positions from the batch statistics.
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, synchronized=False, **kwargs):
        keras_options.take_default_options("BatchNormalization", kwargs,
                                           keras_options.BATCH_RENORM)
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"BatchNormalization: `axis` must be an int, received {axis!r}")
        if synchronized:
            raise ValueError("BatchNormalization: synchronized=True needs several devices; "
                             "graphkit runs on one. Received: synchronized=True")
        self.axis = axis
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.synchronized = False
        set_affine_arguments(self, beta_initializer, gamma_initializer, beta_regularizer,
                             gamma_regularizer, beta_constraint, gamma_constraint)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim:
            raise ValueError(
                f"BatchNormalization '{self.name}': axis {self.axis} is out of range for "
                f"inputs of rank {ndim}. Received: input_shape={tuple(input_shape)}")
        channels = input_shape[self.axis]
        if channels is None:
            raise ValueError(
                f"BatchNormalization '{self.name}': the size of axis {self.axis} must be "
                f"known. Received: input_shape={tuple(input_shape)}")
        shape = (channels,)
        if self.scale:
            self.gamma = add_affine_weight(self, "gamma", shape)
        if self.center:
            self.beta = add_affine_weight(self, "beta", shape)
        self.moving_mean = self.add_weight(
            name="moving_mean", shape=shape, initializer=self.moving_mean_initializer,
            trainable=False, autocast=False)
        self.moving_variance = self.add_weight(
            name="moving_variance", shape=shape, initializer=self.moving_variance_initializer,
            trainable=False, autocast=False)
        self.input_spec = InputSpec(ndim=ndim, axes={self.axis: channels})
        self._reduction_axes = tuple(i for i in range(ndim) if i != self.axis % ndim)
        self.built = True

    def call(self, inputs, training=None, mask=None):
        if mask is not None and len(mask.shape) != len(inputs.shape) - 1:
            raise ValueError(
                f"BatchNormalization '{self.name}': the mask must have one dimension less "
                f"than the inputs. Received: mask.shape={tuple(mask.shape)}, "
                f"inputs.shape={tuple(inputs.shape)}")
        # As Keras: at least float32, so that half-precision statistics do not overflow and
        # integer inputs (which are not autocast) do not truncate the moving statistics.
        dtype = dtypes.result_type(inputs.dtype, "float32")
        inputs = ops.cast(inputs, dtype)
        moving_mean = ops.cast(self.moving_mean, dtype)
        moving_variance = ops.cast(self.moving_variance, dtype)
        if training and self.trainable:
            mean, variance = self._moments(inputs, mask)
            self.moving_mean.assign(
                ops.add(ops.multiply(moving_mean, self.momentum),
                        ops.multiply(mean, 1.0 - self.momentum)))
            self.moving_variance.assign(
                ops.add(ops.multiply(moving_variance, self.momentum),
                        ops.multiply(variance, 1.0 - self.momentum)))
        else:
            mean, variance = moving_mean, moving_variance
        outputs = ops.batch_normalization(
            inputs, mean, variance, axis=self.axis,
            offset=ops.cast(self.beta, dtype) if self.center else None,
            scale=ops.cast(self.gamma, dtype) if self.scale else None,
            epsilon=self.epsilon)
        return ops.cast(outputs, self.compute_dtype)

    def _moments(self, inputs, mask):
        """Mean and biased variance over every axis but `axis`, masked positions left out."""
        if mask is None:
            return ops.moments(inputs, axes=self._reduction_axes)
        # The mask covers every axis but the last (channels): weights (..., 1).
        weights = ops.expand_dims(ops.cast(mask, inputs.dtype), axis=-1)
        count = ops.sum(weights, axis=self._reduction_axes, keepdims=True)
        denominator = ops.add(count, config.epsilon())
        mean = ops.divide(ops.sum(ops.multiply(weights, inputs), axis=self._reduction_axes,
                                  keepdims=True), denominator)
        squared = ops.square(ops.subtract(inputs, mean))
        variance = ops.divide(ops.sum(ops.multiply(weights, squared),
                                      axis=self._reduction_axes, keepdims=True), denominator)
        channels = (inputs.shape[self.axis],)
        return ops.reshape(mean, channels), ops.reshape(variance, channels)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config_ = {
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            **affine_config(self),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(
                self.moving_variance_initializer),
            "synchronized": self.synchronized,
        }
        return {**super().get_config(), **config_, **keras_options.BATCH_RENORM}
