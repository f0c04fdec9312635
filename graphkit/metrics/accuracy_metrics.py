"""Accuracy metrics: per-sample match functions and the running means over them.

The functions return 1.0 where a prediction matches its label and 0.0 elsewhere, with the
label's shape; the metric classes average them (Keras 3's definitions).
"""
from graphkit import config, ops
from graphkit.losses.loss import squeeze_or_expand_to_same_rank
from graphkit.metrics.reduction_metrics import FixedFunctionMean


def accuracy(y_true, y_pred):
    """Exact equality of labels and predictions."""
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true, dtype=y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return ops.cast(ops.equal(y_true, y_pred), config.floatx())


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Labels against `y_pred > threshold`."""
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true, dtype=y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    y_pred = ops.cast(ops.greater(y_pred, threshold), y_true.dtype)
    return ops.cast(ops.equal(y_true, y_pred), config.floatx())


def _argmax_matches(labels, y_pred):
    """labels (integer class ids) against argmax(y_pred); labels of shape (..., 1) too."""
    squeezed = len(labels.shape) == len(y_pred.shape) and labels.shape[-1] == 1
    original_shape = labels.shape
    if squeezed:
        labels = ops.squeeze(labels, axis=-1)
    predicted = ops.cast(ops.argmax(y_pred, axis=-1), labels.dtype)
    matches = ops.cast(ops.equal(labels, predicted), config.floatx())
    if squeezed:
        matches = ops.reshape(matches, original_shape)
    return matches


def categorical_accuracy(y_true, y_pred):
    """argmax of one-hot labels against argmax of predictions."""
    y_pred = ops.convert_to_tensor(y_pred)
    labels = ops.argmax(ops.convert_to_tensor(y_true), axis=-1)
    return _argmax_matches(labels, y_pred)


def sparse_categorical_accuracy(y_true, y_pred):
    """Integer labels against argmax of predictions."""
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true, dtype=y_pred.dtype)
    matches = _argmax_matches(y_true, y_pred)
    if len(matches.shape) > 1 and matches.shape[-1] == 1:
        matches = ops.squeeze(matches, axis=-1)
    return matches


def in_top_k(targets, predictions, k):
    """Whether each target's score is among the `k` largest of its row (ties count in)."""
    targets = ops.cast(targets, "int32")
    score = ops.take_along_axis(predictions, ops.expand_dims(targets, -1), axis=-1)
    n_above = ops.sum(ops.cast(ops.greater(predictions, score), "int32"), axis=-1)
    return ops.less(n_above, k)


def _top_k_matches(labels, y_pred, k):
    original_shape = labels.shape
    if len(y_pred.shape) > 2:
        y_pred = ops.reshape(y_pred, (-1, y_pred.shape[-1]))
    if len(labels.shape) > 1:
        labels = ops.reshape(labels, (-1,))
    matches = ops.cast(in_top_k(labels, y_pred, k), config.floatx())
    return ops.reshape(matches, original_shape)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """Whether the one-hot label's class is among the `k` top predictions."""
    y_pred = ops.convert_to_tensor(y_pred)
    labels = ops.argmax(ops.convert_to_tensor(y_true), axis=-1)
    return _top_k_matches(labels, y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """Whether the integer label is among the `k` top predictions."""
    y_pred = ops.convert_to_tensor(y_pred)
    labels = ops.convert_to_tensor(y_true)
    if len(labels.shape) == len(y_pred.shape) and labels.shape[-1] == 1:
        labels = ops.squeeze(labels, axis=-1)
    return _top_k_matches(labels, y_pred, k)


ACCURACY_FUNCTIONS = (accuracy, binary_accuracy, categorical_accuracy,
                      sparse_categorical_accuracy, top_k_categorical_accuracy,
                      sparse_top_k_categorical_accuracy)


class _AccuracyMetric(FixedFunctionMean):
    """Accuracies are maximized."""

    _goal = "up"


class Accuracy(_AccuracyMetric):
    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name, dtype)


class BinaryAccuracy(_AccuracyMetric):
    _config_keys = ("threshold",)

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name, dtype, threshold=threshold)


class CategoricalAccuracy(_AccuracyMetric):
    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name, dtype)


class SparseCategoricalAccuracy(_AccuracyMetric):
    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name, dtype)


class TopKCategoricalAccuracy(_AccuracyMetric):
    _config_keys = ("k",)

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name, dtype, k=k)


class SparseTopKCategoricalAccuracy(_AccuracyMetric):
    _config_keys = ("k",)

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(sparse_top_k_categorical_accuracy, name, dtype, k=k)
