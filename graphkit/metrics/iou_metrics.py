"""Intersection-over-union metrics: a running (weighted) confusion matrix, and the IoU of
chosen classes from it, TP / (TP + FP + FN), averaged over the classes present."""
import warnings

import numpy as np

from graphkit import config, dtypes, ops
from graphkit.metrics.metric import Metric


def confusion_matrix(labels, predictions, num_classes, weights, dtype):
    """(num_classes, num_classes) weighted counts, rows the labels and columns the
    predictions (integer class ids in [0, num_classes)).

    A product of one-hot matrices rather than a scatter-add: it is one matmul when traced.
    The sums are exact in float32 for integer counts below 2**24.
    """
    sum_dtype = dtype if dtypes.is_float(dtype) else "float32"
    label_hot = ops.one_hot(labels, num_classes, dtype=sum_dtype)
    prediction_hot = ops.one_hot(predictions, num_classes, dtype=sum_dtype)
    weighted = ops.multiply(prediction_hot, ops.expand_dims(ops.cast(weights, sum_dtype), -1))
    return ops.cast(ops.matmul(ops.transpose(label_hot), weighted), dtype)


class IoU(Metric):
    """The mean IoU of `target_class_ids`, over those present in labels or predictions.

    Labels and predictions are class ids (`sparse_y_true`/`sparse_y_pred`), or scores whose
    argmax along `axis` is taken. Ids out of [0, num_classes) and `ignore_class` labels are
    not counted. The state's dtype defaults to int32, as Keras's "int" (float weights are
    then truncated).
    """

    # A variant's config has Keras's keys for it (those its constructor takes); None: all.
    _config_keys = None

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None,
                 ignore_class=None, sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(name=name, dtype=dtype or "int32")
        self._direction = "up"
        if max(target_class_ids) >= num_classes:
            raise ValueError(f"Target class id {max(target_class_ids)} is out of range, "
                             f"which is [0, {num_classes}).")
        self.num_classes = num_classes
        self.target_class_ids = list(target_class_ids)
        self.ignore_class = ignore_class
        self.sparse_y_true = sparse_y_true
        self.sparse_y_pred = sparse_y_pred
        self.axis = axis
        self.total_cm = self.add_variable(shape=(num_classes, num_classes),
                                          name="total_confusion_matrix")

    def _class_ids(self, y, sparse):
        y = y if sparse else ops.argmax(y, axis=self.axis)
        return ops.reshape(ops.convert_to_tensor(y, self.dtype), (-1,))

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = self._class_ids(y_true, self.sparse_y_true)
        y_pred = self._class_ids(y_pred, self.sparse_y_pred)
        weights = self._weights(sample_weight, y_true)
        counted = ops.logical_and(self._in_range(y_true), self._in_range(y_pred))
        if self.ignore_class is not None:
            counted = ops.logical_and(counted, ops.not_equal(y_true, self.ignore_class))
        zeros = ops.zeros_like(y_true)
        cm = confusion_matrix(ops.where(counted, y_true, zeros),
                              ops.where(counted, y_pred, zeros), self.num_classes,
                              ops.where(counted, weights, ops.zeros_like(weights)),
                              self.dtype)
        self.total_cm.assign(ops.add(self.total_cm, cm))

    def _in_range(self, ids):
        return ops.logical_and(ops.greater_equal(ids, 0), ops.less(ids, self.num_classes))

    def _weights(self, sample_weight, y_true):
        if sample_weight is None:
            return ops.ones_like(y_true)
        if "float" in str(getattr(sample_weight, "dtype", "")) and "int" in self.dtype:
            warnings.warn("You are passing weight as `float`, but dtype is `int`. This may "
                          "result in an incorrect weight due to type casting Consider using "
                          "integer weights.")
        weights = ops.convert_to_tensor(sample_weight, self.dtype)
        if len(weights.shape) > 1:
            weights = ops.reshape(weights, (-1,))
        return ops.broadcast_to(weights, y_true.shape)

    def result(self):
        cm = ops.cast(self.total_cm, "float32")
        true_positives = ops.diagonal(cm)
        # Row sums + column sums = 2 TP + FP + FN.
        denominator = ops.subtract(ops.add(ops.sum(cm, axis=0), ops.sum(cm, axis=1)),
                                   true_positives)
        targets = np.asarray(self.target_class_ids, "int32")
        true_positives = ops.take(true_positives, targets)
        denominator = ops.take(denominator, targets)
        # A class absent from labels and predictions counts neither as 0 nor as 1.
        present = ops.greater(denominator, 1e-9)
        iou = ops.divide(true_positives, ops.add(denominator, config.epsilon()))
        iou = ops.where(present, iou, ops.zeros_like(iou))
        num_present = ops.sum(ops.cast(present, "float32"))
        return ops.divide(ops.sum(iou, axis=self.axis), ops.add(num_present, config.epsilon()))

    def get_config(self):
        config = {**super().get_config(), "num_classes": self.num_classes,
                  "target_class_ids": self.target_class_ids,
                  "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                  "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}
        if self._config_keys is None:
            return config
        return {key: config[key] for key in self._config_keys}


class BinaryIoU(IoU):
    """IoU with two classes, a prediction >= `threshold` being class 1."""

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(num_classes=2, target_class_ids=target_class_ids, name=name,
                         dtype=dtype)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None):
        predicted = ops.greater_equal(ops.convert_to_tensor(y_pred, "float32"), self.threshold)
        return super().update_state(y_true, ops.cast(predicted, self.dtype), sample_weight)

    def get_config(self):
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold,
                "name": self.name, "dtype": self.dtype}


class MeanIoU(IoU):
    """IoU averaged over all `num_classes` classes."""

    _config_keys = ("num_classes", "name", "dtype", "ignore_class", "sparse_y_true",
                    "sparse_y_pred", "axis")

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(num_classes=num_classes, target_class_ids=list(range(num_classes)),
                         name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=sparse_y_true, sparse_y_pred=sparse_y_pred, axis=axis)


class OneHotIoU(IoU):
    """IoU for one-hot labels (and, unless `sparse_y_pred`, class scores)."""

    _config_keys = ("num_classes", "target_class_ids", "name", "dtype", "ignore_class",
                    "sparse_y_pred", "axis")

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None,
                 ignore_class=None, sparse_y_pred=False, axis=-1):
        super().__init__(num_classes=num_classes, target_class_ids=target_class_ids,
                         name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=False, sparse_y_pred=sparse_y_pred, axis=axis)


class OneHotMeanIoU(MeanIoU):
    """MeanIoU for one-hot labels (and, unless `sparse_y_pred`, class scores)."""

    _config_keys = ("num_classes", "name", "dtype", "ignore_class", "sparse_y_pred", "axis")

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_pred=False, axis=-1):
        super().__init__(num_classes=num_classes, name=name, dtype=dtype,
                         ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)
