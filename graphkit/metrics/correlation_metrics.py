"""Correlation metrics: the per-sample Pearson and concordance correlations and their
running means."""
from graphkit import config, ops
from graphkit.losses.loss import squeeze_or_expand_to_same_rank
from graphkit.metrics.reduction_metrics import FixedFunctionMean


def _standardized(x, axis):
    """(x - mean) / std along `axis`."""
    centered = ops.subtract(x, ops.mean(x, axis=axis, keepdims=True))
    return ops.divide(centered, ops.std(centered, axis=axis, keepdims=True))


def pearson_correlation(y_true, y_pred, axis=-1):
    """The Pearson correlation of labels and predictions along `axis`."""
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true, dtype=y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return ops.mean(ops.multiply(_standardized(y_true, axis), _standardized(y_pred, axis)),
                    axis=axis)


class PearsonCorrelation(FixedFunctionMean):
    _config_keys = ("axis",)
    _goal = "up"

    def __init__(self, name="pearson_correlation", dtype=None, axis=-1):
        super().__init__(pearson_correlation, name, dtype, axis=axis)
        self.axis = axis


def concordance_correlation(y_true, y_pred, axis=-1):
    """Lin's concordance correlation along `axis`, written as Keras 3 computes it.

    Keras centres y_true at the *prediction* mean in the covariance term; that is kept, so
    results match Keras's (it equals the textbook formula when the means agree).
    """
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true, dtype=y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    true_mean = ops.mean(y_true, axis=axis, keepdims=True)
    pred_mean = ops.mean(y_pred, axis=axis, keepdims=True)
    true_var = ops.var(ops.subtract(y_true, true_mean), axis=axis, keepdims=True)
    pred_var = ops.var(ops.subtract(y_pred, pred_mean), axis=axis, keepdims=True)
    covar = ops.multiply(ops.subtract(y_true, pred_mean), ops.subtract(y_pred, pred_mean))
    norm = ops.add(ops.add(true_var, pred_var), ops.square(ops.subtract(true_mean, pred_mean)))
    return ops.mean(ops.divide(ops.multiply(2.0, covar), ops.add(norm, config.epsilon())),
                    axis=axis)


class ConcordanceCorrelation(FixedFunctionMean):
    _config_keys = ("axis",)
    _goal = "up"

    def __init__(self, name="concordance_correlation", dtype=None, axis=-1):
        super().__init__(concordance_correlation, name, dtype, axis=axis)
        self.axis = axis
