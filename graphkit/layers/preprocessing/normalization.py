"""`Normalization`: shifts and scales inputs to mean 0 and variance 1 per feature, with
statistics given up front or learned from data by `adapt()`, as Keras 3's preprocessing
layer."""
import math

import numpy as np

from graphkit import config, ops
from graphkit.layers.layer import Layer


def _axes_tuple(axis):
    if axis is None:
        return ()
    return (axis,) if isinstance(axis, int) else tuple(axis)


class Normalization(Layer):
    """`(x - mean) / max(sqrt(variance), epsilon)` (with `invert=True`, the reverse).

    `axis` names the axes that keep statistics of their own (default: the last, one mean
    per feature); every other axis is reduced. Without `mean` and `variance`, they are
    non-trainable weights ("mean", "variance", "count", as Keras's) that `adapt(data)` sets
    from arrays, or from an iterable of batches (merged as Keras merges them)."""

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axes_tuple(axis)
        self.input_mean, self.input_variance = mean, variance
        self.invert = invert
        self.supports_masking = True
        self._build_input_shape = None
        if (mean is None) != (variance is None):
            raise ValueError(f"Normalization '{self.name}': when setting values directly, "
                             f"both `mean` and `variance` must be set. Received: mean={mean} "
                             f"and variance={variance}")
        if mean is not None and np.shape(mean) != np.shape(variance):
            raise ValueError(f"Normalization '{self.name}': `mean` and `variance` must have "
                             f"the same shape. Received: mean shape {np.shape(mean)} and "
                             f"variance shape {np.shape(variance)}")
        if mean is not None and np.ndim(mean) > len(self.axis):
            raise ValueError(f"Normalization '{self.name}': the rank of `mean` must be at "
                             f"most the number of axes ({len(self.axis)}). Received: mean "
                             f"shape {np.shape(mean)} for axis {self.axis}")

    def build(self, input_shape):
        ndim = len(input_shape)
        if any(not -ndim <= a < ndim for a in self.axis):
            raise ValueError(f"Normalization '{self.name}': every `axis` must be in "
                             f"[-{ndim}, {ndim}). Received inputs with ndim={ndim}, "
                             f"axis={self.axis}")
        self._build_input_shape = tuple(input_shape)
        self._keep_axis = tuple(sorted(a % ndim for a in self.axis))
        unknown = [a for a in self._keep_axis if input_shape[a] is None]
        if unknown:
            raise ValueError(f"Normalization '{self.name}': the kept axes must have known "
                             f"sizes. Received axis={self.axis}, inputs.shape="
                             f"{tuple(input_shape)}, with an unknown size at {unknown[0]}")
        self._reduce_axis = tuple(a for a in range(ndim) if a not in self._keep_axis)
        self._broadcast_shape = tuple(input_shape[a] if a in self._keep_axis else 1
                                      for a in range(ndim))
        stats_shape = tuple(input_shape[a] for a in self._keep_axis)
        if self.input_mean is not None:
            for arg, value in (("mean", self.input_mean), ("variance", self.input_variance)):
                try:
                    self._given_statistic(value)
                except ValueError:
                    raise ValueError(
                        f"Normalization '{self.name}': `{arg}` must broadcast to the sizes "
                        f"{stats_shape} of the kept axes {self.axis}. Received: {arg} shape "
                        f"{np.shape(value)}, inputs.shape={tuple(input_shape)}") from None
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(name="mean", shape=stats_shape,
                                              initializer="zeros", trainable=False)
            self.adapt_variance = self.add_weight(name="variance", shape=stats_shape,
                                                  initializer="ones", trainable=False)
            self.count = self.add_weight(name="count", shape=(), dtype="int32",
                                         initializer="zeros", trainable=False)
        self.built = True

    # -- statistics ----------------------------------------------------------------------
    def _given_statistic(self, value):
        """A given mean or variance, its trailing dims on the kept axes, broadcast."""
        value = np.asarray(value, dtype=self.compute_dtype)
        shape = [1] * len(self._broadcast_shape)
        for i in range(1, value.ndim + 1):
            shape[self._keep_axis[-i]] = value.shape[-i]
        return np.broadcast_to(value.reshape(shape), self._broadcast_shape)

    def _statistics(self):
        if self.input_mean is not None:
            return (ops.convert_to_tensor(self._given_statistic(self.input_mean)),
                    ops.convert_to_tensor(self._given_statistic(self.input_variance)))
        return tuple(ops.cast(ops.reshape(v, self._broadcast_shape), self.compute_dtype)
                     for v in (self.adapt_mean, self.adapt_variance))

    def adapt(self, data):
        """Sets the mean and variance from `data`: an array or tensor (all of it at once),
        or an iterable of batches (each batch's statistics merged in)."""
        if isinstance(data, (list, tuple)) or hasattr(data, "shape"):
            batches = [np.asarray(data)] if hasattr(data, "shape") else list(data)
        elif hasattr(data, "__iter__") or hasattr(data, "__getitem__"):
            batches = data
        else:
            raise TypeError(f"Normalization '{self.name}'.adapt: expected an array, a tensor "
                            f"or an iterable of batches, received {type(data).__name__}")
        if self.input_mean is not None:
            raise ValueError(f"Normalization '{self.name}'.adapt: the layer was given "
                             "`mean` and `variance`; there is nothing to adapt")
        mean, variance = self._merged_statistics(batches)
        self.adapt_mean.assign(mean.astype(self.adapt_mean.dtype))
        self.adapt_variance.assign(variance.astype(self.adapt_variance.dtype))

    def _merged_statistics(self, batches):
        total_mean = total_var = None
        total_count = 0
        for batch in batches:
            batch = np.asarray(batch[0] if isinstance(batch, tuple) else batch, np.float64)
            if not self.built:
                self.build(batch.shape)
            self._check_adapt_shape(batch.shape)
            mean, var = batch.mean(axis=self._reduce_axis), batch.var(axis=self._reduce_axis)
            count = math.prod(batch.shape[a] for a in self._reduce_axis)
            if total_mean is None:
                total_mean, total_var, total_count = mean, var, count
                continue
            # Chan et al.'s merge of two (mean, variance, count) summaries, as Keras does.
            total_count += count
            w = count / total_count
            new_mean = total_mean * (1 - w) + mean * w
            total_var = ((total_var + (total_mean - new_mean) ** 2) * (1 - w) +
                         (var + (mean - new_mean) ** 2) * w)
            total_mean = new_mean
        if total_mean is None:
            raise ValueError(f"Normalization '{self.name}'.adapt: the data has no batches")
        return total_mean, total_var

    def _check_adapt_shape(self, shape):
        if len(shape) != len(self._build_input_shape) or any(
                shape[a] != self._build_input_shape[a] for a in self._keep_axis):
            raise ValueError(f"Normalization '{self.name}'.adapt: the layer was built with "
                             f"input_shape={self._build_input_shape}, but adapt() received "
                             f"data of an incompatible shape {tuple(shape)}")

    # -- call ----------------------------------------------------------------------------
    def call(self, inputs):
        inputs = ops.cast(inputs, self.compute_dtype)
        mean, variance = self._statistics()
        scale = ops.maximum(ops.sqrt(variance), config.epsilon())
        if self.invert:
            return ops.add(mean, ops.multiply(inputs, scale))
        return ops.divide(ops.subtract(inputs, mean), scale)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": np.array(self.input_mean).tolist(),
                "variance": np.array(self.input_variance).tolist()}

    def get_build_config(self):
        if self._build_input_shape is not None:
            return {"input_shape": self._build_input_shape}
        return None
