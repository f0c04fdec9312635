"""Regression metrics: running means of per-sample errors (the loss functions'), the root
of the mean squared error, cosine similarity and the R2 score."""
import warnings

from graphkit import ops
from graphkit.losses import losses
from graphkit.losses.loss import squeeze_or_expand_to_same_rank
from graphkit.metrics.metric import Metric, require_2d
from graphkit.metrics.reduction_metrics import FixedFunctionMean, Mean


class MeanSquaredError(FixedFunctionMean):
    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(losses.mean_squared_error, name, dtype)


class MeanAbsoluteError(FixedFunctionMean):
    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(losses.mean_absolute_error, name, dtype)


class MeanAbsolutePercentageError(FixedFunctionMean):
    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(losses.mean_absolute_percentage_error, name, dtype)


class MeanSquaredLogarithmicError(FixedFunctionMean):
    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(losses.mean_squared_logarithmic_error, name, dtype)


class LogCoshError(FixedFunctionMean):
    def __init__(self, name="logcosh", dtype=None):
        super().__init__(losses.log_cosh, name, dtype)


def cosine_similarity(y_true, y_pred, axis=-1):
    """sum(l2_normalize(y_true) * l2_normalize(y_pred)) along `axis`: the loss's negation."""
    return ops.negative(losses.cosine_similarity(y_true, y_pred, axis=axis))


class CosineSimilarity(FixedFunctionMean):
    """The mean cosine similarity; as Keras's, the config leaves `axis` out."""

    _goal = "up"

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(cosine_similarity, name, dtype, axis=axis)


class RootMeanSquaredError(Mean):
    """sqrt of the (weighted) mean of the squared errors."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "down"

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.convert_to_tensor(y_true, self.dtype)
        y_pred = ops.convert_to_tensor(y_pred, self.dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        squared_error = ops.square(ops.subtract(y_pred, y_true))
        return super().update_state(squared_error, sample_weight=sample_weight)

    def result(self):
        return ops.sqrt(super().result())


class R2Score(Metric):
    """The coefficient of determination, 1 - SS_res / SS_tot, per output column.

    `class_aggregation` None gives one score per column, "uniform_average" their mean,
    "variance_weighted_average" their mean weighted by each column's SS_tot. With
    `num_regressors` p > 0 the score is adjusted: 1 - (1 - R2) (n - 1) / (n - p - 1),
    n counting every value seen, as Keras (batch size times columns).
    """

    AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")

    def __init__(self, class_aggregation="uniform_average", num_regressors=0,
                 name="r2_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        if class_aggregation not in self.AGGREGATIONS:
            raise ValueError("Invalid value for argument `class_aggregation`. Expected one of "
                             f"{self.AGGREGATIONS}. Received: "
                             f"class_aggregation={class_aggregation}")
        if num_regressors < 0:
            raise ValueError("Invalid value for argument `num_regressors`. Expected a value "
                             f">= 0. Received: num_regressors={num_regressors}")
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        self.num_samples = self.add_variable(shape=(), name="num_samples")
        self._built = False

    def build_state(self, y_true, y_pred):
        """The per-column variables, from the shapes (the trainer calls this before it
        traces a step)."""
        if self._built:
            return
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        y_true_shape, y_pred_shape = tuple(y_true.shape), tuple(y_pred.shape)
        require_2d(self, y_true_shape, y_pred_shape)
        columns = (y_pred_shape[-1],)
        self.squared_sum = self.add_variable(shape=columns, name="squared_sum")
        self.sum = self.add_variable(shape=columns, name="sum")
        self.total_mse = self.add_variable(shape=columns, name="residual")
        self.count = self.add_variable(shape=columns, name="count")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.convert_to_tensor(y_true, self.dtype)
        y_pred = ops.convert_to_tensor(y_pred, self.dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        self.build_state(y_true, y_pred)
        weight = ops.convert_to_tensor(1.0 if sample_weight is None else sample_weight,
                                       self.dtype)
        if len(weight.shape) == 1:
            weight = ops.expand_dims(weight, axis=1)  # one weight per sample, every column
        weight = ops.broadcast_to(weight, y_true.shape)
        weighted_true = ops.multiply(y_true, weight)
        squared_error = ops.square(ops.subtract(y_true, y_pred))
        self._accumulate(self.sum, weighted_true)
        self._accumulate(self.squared_sum, ops.multiply(y_true, weighted_true))
        self._accumulate(self.total_mse, ops.multiply(squared_error, weight))
        self._accumulate(self.count, weight)
        self.num_samples.assign(ops.add(self.num_samples,
                                        ops.cast(ops.size(y_true), self.dtype)))

    @staticmethod
    def _accumulate(variable, values):
        variable.assign(ops.add(variable, ops.sum(values, axis=0)))

    def result(self):
        mean = ops.divide(self.sum, self.count)
        total = ops.subtract(self.squared_sum, ops.multiply(self.sum, mean))
        raw_scores = ops.subtract(1.0, ops.divide(self.total_mse, total))
        # A constant column (SS_tot 0) scores 0, as in Keras.
        raw_scores = ops.where(ops.isinf(raw_scores), ops.zeros_like(raw_scores), raw_scores)
        if self.class_aggregation == "uniform_average":
            score = ops.mean(raw_scores)
        elif self.class_aggregation == "variance_weighted_average":
            score = ops.divide(ops.sum(ops.multiply(total, raw_scores)), ops.sum(total))
        else:
            score = raw_scores
        return self._adjusted(score) if self.num_regressors else score

    def _adjusted(self, score):
        """The adjusted score; the plain one where n - p - 1 <= 0, as Keras (a `where`
        rather than a branch on n, so that it traces)."""
        n, p = self.num_samples.value, float(self.num_regressors)
        _warn_when_too_few_samples(n, p)
        denominator = ops.subtract(ops.subtract(n, p), 1.0)
        adjusted = ops.subtract(1.0, ops.divide(
            ops.multiply(ops.subtract(1.0, score), ops.subtract(n, 1.0)),
            ops.where(ops.greater(denominator, 0.0), denominator, ops.ones_like(n))))
        return ops.where(ops.greater(denominator, 0.0), adjusted, score)

    def get_config(self):
        return {**super().get_config(), "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}


def _warn_when_too_few_samples(n, p):
    """Keras's warnings for the adjusted score's fallback, where n is a concrete value."""
    try:
        n = float(n)
    except Exception:  # a traced value: no warning, the `where` still falls back
        return
    if p > n - 1:
        warnings.warn("More independent predictors than datapoints in adjusted R2 score. "
                      "Falling back to standard R2 score.", stacklevel=3)
    elif p == n - 1:
        warnings.warn("Division by zero in Adjusted R2 score. Falling back to standard R2 "
                      "score.", stacklevel=3)
