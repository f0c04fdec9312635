"""Correlation metrics: the per-sample Pearson correlation and its running mean."""
from graphkit import ops
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
