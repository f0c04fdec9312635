"""Metrics that accumulate values: `Sum`, `Mean`, and `MeanMetricWrapper` (the mean of a
per-sample function such as an accuracy or a loss)."""
import numpy as np

from graphkit import ops
from graphkit.core.tensor import Tensor
from graphkit.ops import primitive
from graphkit.losses import losses
from graphkit.losses.loss import (apply_mask, divide_no_nan, get_keras_mask,
                                  squeeze_or_expand_to_same_rank)
from graphkit.metrics.metric import Metric


def reduce_to_samplewise_values(values, sample_weight, reduce_fn, dtype):
    """One value per sample (reducing the non-batch axes), weighted by `sample_weight`.

    Returns the weighted values and the per-sample weights (None without weights).
    """
    mask = get_keras_mask(values)
    values = ops.cast(values, dtype)
    if sample_weight is not None:
        sample_weight = ops.convert_to_tensor(sample_weight, dtype=dtype)
        if mask is not None:
            sample_weight = apply_mask(sample_weight, mask, dtype=dtype, reduction="sum")
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        weight_ndim, values_ndim = len(sample_weight.shape), len(values.shape)
        if values_ndim > weight_ndim:
            values = reduce_fn(values, axis=tuple(range(weight_ndim, values_ndim)))
        # Broadcasting the weights changes the count a Mean divides by, not the product.
        sample_weight = ops.broadcast_to(sample_weight, values.shape)
        values = ops.multiply(values, sample_weight)
        if weight_ndim > 1:
            sample_weight = reduce_fn(sample_weight, axis=tuple(range(1, weight_ndim)))
    if len(values.shape) > 1:
        values = reduce_fn(values, axis=tuple(range(1, len(values.shape))))
    return values, sample_weight


class Sum(Metric):
    """The (weighted) sum of all values seen."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), name="total")

    def update_state(self, values, sample_weight=None):
        values, _ = reduce_to_samplewise_values(values, sample_weight, ops.sum, self.dtype)
        self.total.assign(ops.add(self.total, ops.sum(values)))

    def result(self):
        return ops.cast(self.total, self.dtype)


class Mean(Metric):
    """The (weighted) mean of all values seen: total / count."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), name="total")
        self.count = self.add_variable(shape=(), name="count")

    def update_state(self, values, sample_weight=None):
        if _eager_scalar_update(self, values, sample_weight):
            return
        values, sample_weight = reduce_to_samplewise_values(values, sample_weight, ops.mean,
                                                            self.dtype)
        self.total.assign(ops.add(self.total, ops.sum(values)))
        if sample_weight is not None:
            num_samples = ops.sum(sample_weight)
        elif len(values.shape) >= 1:
            num_samples = ops.cast(ops.shape(values)[0], self.dtype)
        else:
            num_samples = 1.0
        self.count.assign(ops.add(self.count, ops.cast(num_samples, self.dtype)))

    def result(self):
        total, count = self.total.value, self.count.value
        if _plain_scalars(self, total, count):
            # divide_no_nan on two NumPy scalars: the same division, without its six ops.
            t, c = total._array, count._array
            return Tensor(np.true_divide(t, c) if c else np.zeros_like(t))
        return divide_no_nan(total, ops.cast(count, self.dtype))


# -- the eager form of the loss tracker's update ------------------------------------------------
# A train step updates a Mean with one scalar (the loss, weighted by the batch size) and reads
# its result: about fifteen op dispatches on 0-d values, a tenth of a small model's eager
# step. On concrete values outside any tape or trace, the same NumPy ufuncs on the same 0-d
# arrays give the same bits without them (as the eager Adam update does).

_EAGER_DTYPES = frozenset(("float32", "float64"))  # whose sums accumulate in their own dtype


def _plain_scalars(metric, *values):
    """Whether `values` are 0-d eager Tensors of the metric's dtype, with no tape active."""
    if primitive.ACTIVE_TAPES or metric.dtype not in _EAGER_DTYPES:
        return False
    for v in values:
        if type(v) is not Tensor or v._array.ndim or v.dtype != metric.dtype:
            return False
    return True


def _eager_scalar_update(metric, values, sample_weight):
    """`Mean.update_state` for one scalar Tensor weighted by a number (or not weighted),
    done on NumPy; False (nothing done) for any other case."""
    if type(values) is not Tensor or values._keras_mask is not None:
        return False
    if sample_weight is not None and (type(sample_weight) not in (int, float)):
        return False
    total, count = metric.total.value, metric.count.value
    if not _plain_scalars(metric, values, total, count):
        return False
    dtype = values._array.dtype
    if sample_weight is None:   # total += value; count += 1
        metric.total.assign(Tensor(np.add(total._array, values._array)))
        metric.count.assign(Tensor(np.add(count._array, np.asarray(1.0, dtype))))
        return True
    weight = np.asarray(sample_weight, dtype)
    metric.total.assign(Tensor(np.add(total._array, np.multiply(values._array, weight))))
    metric.count.assign(Tensor(np.add(count._array, weight)))
    return True


class MeanMetricWrapper(Mean):
    """The mean of `fn(y_true, y_pred, **kwargs)` over all samples seen."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs
        direction = _direction_of(fn)
        if direction is not None:
            self._direction = direction

    def update_state(self, y_true, y_pred, sample_weight=None):
        mask = get_keras_mask(y_pred)
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        sample_weight = apply_mask(sample_weight, mask, dtype=self.dtype, reduction="sum")
        return super().update_state(values, sample_weight=sample_weight)

    def get_config(self):
        config = super().get_config()
        config.update(self._fn_kwargs)
        if type(self) is MeanMetricWrapper:
            raise ValueError(
                f"MeanMetricWrapper '{self.name}': a metric wrapping the function "
                f"{self._fn!r} cannot be serialized; register a Metric subclass instead")
        return config



class FixedFunctionMean(MeanMetricWrapper):
    """A named metric over one fixed function (Keras's MeanSquaredError, Hinge, ...): its
    config is its name, dtype and the function arguments in `_config_keys` (the function
    itself is implied by the class), and `_goal` tells callbacks in mode 'auto' which way
    is better."""

    _config_keys = ()
    _goal = "down"

    def __init__(self, fn, name, dtype, **kwargs):
        super().__init__(fn=fn, name=name, dtype=dtype, **kwargs)
        self._direction = self._goal

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype}
        config.update({k: self._fn_kwargs[k] for k in self._config_keys})
        return config

def _direction_of(fn):
    """Which way callbacks in mode 'auto' should follow a metric wrapping `fn`: "down" for a
    built-in loss (as Keras), "up" for a built-in accuracy (Keras compiles the strings
    "accuracy", "binary_accuracy", ... as accuracy classes, which go up); None otherwise."""
    from graphkit.metrics import accuracy_metrics  # here: that module imports this one
    if any(fn is f for f in losses.ALL_FUNCTIONS.values()):
        return "down"
    if any(fn is f for f in accuracy_metrics.ACCURACY_FUNCTIONS):
        return "up"
    return None
