"""Threshold metrics: Precision, Recall, AUC, the four confusion counts, and the best rate
at a constrained one (PrecisionAtRecall, SensitivityAtSpecificity, ...).

Each keeps, per threshold, weighted counts of true/false positives/negatives. A prediction
is positive when it is strictly greater than the threshold; a label is positive when it is
non-zero. Counting is one broadcast comparison of (thresholds x samples), with no loop over
thresholds, so it stays a handful of ops when traced.
"""
import numpy as np

from graphkit import config, ops
from graphkit.losses.loss import divide_no_nan
from graphkit.metrics.metric import Metric

NEG_INF = -1e10
CONDITIONS = ("tp", "fp", "tn", "fn")


def parse_thresholds(thresholds, default):
    if thresholds is None:
        thresholds = [default]
    elif isinstance(thresholds, (int, float)):
        thresholds = [thresholds]
    thresholds = [float(t) for t in thresholds]
    for t in thresholds:
        if t != NEG_INF and not 0.0 <= t <= 1.0:
            raise ValueError(f"Threshold values must be in [0, 1], received {thresholds}")
    return thresholds


def _keep_top_k(y_pred, k):
    """Predictions outside each row's top `k` become NEG_INF (never above a threshold).

    An entry is in the top k when fewer than k entries of its row are strictly greater
    (so ties at the k-th value are all kept).
    """
    greater = ops.greater(ops.expand_dims(y_pred, -2), ops.expand_dims(y_pred, -1))
    n_above = ops.sum(ops.cast(greater, "int32"), axis=-1)
    return ops.where(ops.less(n_above, k), y_pred,
                     ops.multiply(ops.ones_like(y_pred), NEG_INF))


def update_confusion_matrix_variables(variables, y_true, y_pred, thresholds, top_k=None,
                                      class_id=None, sample_weight=None, multi_label=False,
                                      label_weights=None):
    """Add weighted counts to `variables` ({"tp": var, ...}), one entry per threshold.

    Variables have shape (num_thresholds,), or (num_thresholds, num_labels) when
    `multi_label` (then each label is counted separately).
    """
    unknown = set(variables) - set(CONDITIONS)
    if unknown:
        raise ValueError(f"update_confusion_matrix_variables: unknown conditions {unknown}, "
                         f"expected some of {CONDITIONS}")
    dtype = next(iter(variables.values())).dtype
    y_pred = ops.cast(y_pred, dtype)
    y_true = ops.cast(y_true, dtype)
    if top_k is not None:
        y_pred = _keep_top_k(y_pred, top_k)
    if class_id is not None:
        # Keep the class axis (as Keras), so that (batch, 1) sample weights still line up.
        y_pred = y_pred[..., class_id:class_id + 1]
        y_true = y_true[..., class_id:class_id + 1]
    if tuple(y_true.shape) != tuple(y_pred.shape):
        y_true = ops.reshape(y_true, y_pred.shape) if int(np.prod(y_true.shape)) == int(
            np.prod(y_pred.shape)) else ops.broadcast_to(y_true, y_pred.shape)
    weights = ops.ones_like(y_pred)
    if sample_weight is not None:
        sample_weight = ops.convert_to_tensor(sample_weight, dtype=dtype)
        while len(sample_weight.shape) < len(y_pred.shape) and len(sample_weight.shape) > 0:
            sample_weight = ops.expand_dims(sample_weight, -1)
        weights = ops.multiply(weights, sample_weight)
    if label_weights is not None and not multi_label:
        weights = ops.multiply(weights, ops.convert_to_tensor(label_weights, dtype=dtype))

    if multi_label:  # (samples, labels): count over samples only
        n_labels = y_pred.shape[-1]
        preds = ops.reshape(y_pred, (1, -1, n_labels))
        labels = ops.reshape(y_true, (1, -1, n_labels))
        weights = ops.reshape(weights, (1, -1, n_labels))
        thresh = ops.reshape(ops.convert_to_tensor(np.asarray(thresholds, dtype)), (-1, 1, 1))
    else:  # everything flattened into one pool of samples
        preds = ops.reshape(y_pred, (1, -1))
        labels = ops.reshape(y_true, (1, -1))
        weights = ops.reshape(weights, (1, -1))
        thresh = ops.reshape(ops.convert_to_tensor(np.asarray(thresholds, dtype)), (-1, 1))
    pred_pos = ops.greater(preds, thresh)        # (thresholds, samples[, labels])
    label_pos = ops.not_equal(labels, 0)
    cases = {
        "tp": lambda: ops.logical_and(label_pos, pred_pos),
        "fp": lambda: ops.logical_and(ops.logical_not(label_pos), pred_pos),
        "tn": lambda: ops.logical_and(ops.logical_not(label_pos), ops.logical_not(pred_pos)),
        "fn": lambda: ops.logical_and(label_pos, ops.logical_not(pred_pos)),
    }
    for cond, variable in variables.items():
        counts = ops.sum(ops.multiply(ops.cast(cases[cond](), dtype), weights), axis=1)
        variable.assign(ops.add(variable, counts))


class _ConfusionMatrixConditionCount(Metric):
    _condition = None

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = parse_thresholds(thresholds, 0.5)
        self.accumulator = self.add_variable(shape=(len(self.thresholds),),
                                             name="accumulator")

    def update_state(self, y_true, y_pred, sample_weight=None):
        update_confusion_matrix_variables({self._condition: self.accumulator}, y_true,
                                          y_pred, self.thresholds,
                                          sample_weight=sample_weight)

    def result(self):
        value = self.accumulator.value
        return value[0] if len(self.thresholds) == 1 else value

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConfusionMatrixConditionCount):
    _condition = "tp"


class FalsePositives(_ConfusionMatrixConditionCount):
    _condition = "fp"


class TrueNegatives(_ConfusionMatrixConditionCount):
    _condition = "tn"


class FalseNegatives(_ConfusionMatrixConditionCount):
    _condition = "fn"


class _PrecisionRecall(Metric):
    """tp / (tp + other) per threshold, `other` being fp (precision) or fn (recall)."""

    _other = None

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        self.thresholds = parse_thresholds(thresholds, 0.5 if top_k is None else NEG_INF)
        n = len(self.thresholds)
        self.true_positives = self.add_variable(shape=(n,), name="true_positives")
        other_name = {"fp": "false_positives", "fn": "false_negatives"}[self._other]
        setattr(self, other_name, self.add_variable(shape=(n,), name=other_name))
        self._other_variable = getattr(self, other_name)

    def update_state(self, y_true, y_pred, sample_weight=None):
        update_confusion_matrix_variables(
            {"tp": self.true_positives, self._other: self._other_variable}, y_true, y_pred,
            self.thresholds, top_k=self.top_k, class_id=self.class_id,
            sample_weight=sample_weight)

    def result(self):
        value = divide_no_nan(self.true_positives,
                              ops.add(self.true_positives, self._other_variable))
        return value[0] if len(self.thresholds) == 1 else value

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_PrecisionRecall):
    """Of the predictions above the threshold, the fraction whose label is positive."""
    _other = "fp"


class Recall(_PrecisionRecall):
    """Of the positive labels, the fraction predicted above the threshold."""
    _other = "fn"


class AUC(Metric):
    """Area under the ROC or PR curve, from counts at `num_thresholds` thresholds
    (a Riemann sum with interpolation, minoring or majoring heights)."""

    CURVES = ("ROC", "PR")
    SUMMATIONS = ("interpolation", "minoring", "majoring")

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        curve = str(curve).upper()
        if curve not in self.CURVES:
            raise ValueError(f"AUC: invalid `curve` {curve!r}, expected one of {self.CURVES}")
        summation_method = str(summation_method).lower()
        if summation_method not in self.SUMMATIONS:
            raise ValueError(f"AUC: invalid `summation_method` {summation_method!r}, "
                             f"expected one of {self.SUMMATIONS}")
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
            self.num_thresholds = len(inner) + 2
        else:
            if num_thresholds <= 1:
                raise ValueError("AUC: `num_thresholds` must be an integer > 1, received "
                                 f"{num_thresholds!r}")
            self.num_thresholds = num_thresholds
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        # End points just outside [0, 1] absorb predictions of exactly 0 or 1.
        self._thresholds = [0.0 - config.epsilon()] + inner + [1.0 + config.epsilon()]
        self.curve = curve
        self.summation_method = summation_method
        self.multi_label = multi_label
        self.num_labels = num_labels
        self.label_weights = None if label_weights is None else [
            float(w) for w in np.asarray(label_weights).ravel()]
        self._from_logits = from_logits
        self._built = False
        if multi_label:
            if num_labels:
                self._build(num_labels)
        else:
            if num_labels:
                raise ValueError("AUC: `num_labels` is needed only when `multi_label=True`")
            self._build(None)

    @property
    def thresholds(self):
        return list(self._thresholds)

    def _build(self, num_labels):
        shape = (self.num_thresholds,) if num_labels is None else (self.num_thresholds,
                                                                    num_labels)
        self._num_labels = num_labels
        self.true_positives = self.add_variable(shape=shape, name="true_positives")
        self.false_positives = self.add_variable(shape=shape, name="false_positives")
        self.true_negatives = self.add_variable(shape=shape, name="true_negatives")
        self.false_negatives = self.add_variable(shape=shape, name="false_negatives")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.convert_to_tensor(y_pred)
        if not self._built:
            if len(y_pred.shape) != 2:
                raise ValueError("AUC(multi_label=True): y_pred must have rank 2, received "
                                 f"shape {tuple(y_pred.shape)}")
            self._build(y_pred.shape[-1])
        if self._from_logits:
            y_pred = ops.sigmoid(y_pred)
        update_confusion_matrix_variables(
            {"tp": self.true_positives, "tn": self.true_negatives,
             "fp": self.false_positives, "fn": self.false_negatives},
            y_true, y_pred, self._thresholds, sample_weight=sample_weight,
            multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights)

    def _average_over_labels(self, per_threshold_terms):
        if not self.multi_label:
            return ops.sum(per_threshold_terms)
        by_label = ops.sum(per_threshold_terms, axis=0)
        if self.label_weights is None:
            return ops.mean(by_label)
        weights = ops.convert_to_tensor(np.asarray(self.label_weights, self.dtype))
        return divide_no_nan(ops.sum(ops.multiply(by_label, weights)), ops.sum(weights))

    def _interpolate_pr_auc(self):
        """Davis & Goadrich interpolation: precision varies as TP/P with TP, P linear
        between thresholds, integrated in closed form."""
        n = self.num_thresholds
        tp, fp, fn = (self.true_positives.value, self.false_positives.value,
                      self.false_negatives.value)
        dtp = ops.subtract(tp[: n - 1], tp[1:])
        p = ops.add(tp, fp)
        dp = ops.subtract(p[: n - 1], p[1:])
        slope = divide_no_nan(dtp, ops.maximum(dp, 0.0))
        intercept = ops.subtract(tp[1:], ops.multiply(slope, p[1:]))
        ratio = ops.where(ops.logical_and(ops.greater(p[: n - 1], 0), ops.greater(p[1:], 0)),
                          divide_no_nan(p[: n - 1], ops.maximum(p[1:], 0.0)),
                          ops.ones_like(p[1:]))
        terms = divide_no_nan(
            ops.multiply(slope, ops.add(dtp, ops.multiply(intercept, ops.log(ratio)))),
            ops.maximum(ops.add(tp[1:], fn[1:]), 0.0))
        return self._average_over_labels(terms)

    def result(self):
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        n = self.num_thresholds
        tp, fp, tn, fn = (self.true_positives.value, self.false_positives.value,
                          self.true_negatives.value, self.false_negatives.value)
        recall = divide_no_nan(tp, ops.add(tp, fn))
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, ops.add(fp, tn)), recall
        else:
            x, y = recall, divide_no_nan(tp, ops.add(tp, fp))
        if self.summation_method == "interpolation":
            heights = ops.divide(ops.add(y[: n - 1], y[1:]), 2.0)
        elif self.summation_method == "minoring":
            heights = ops.minimum(y[: n - 1], y[1:])
        else:
            heights = ops.maximum(y[: n - 1], y[1:])
        return self._average_over_labels(ops.multiply(ops.subtract(x[: n - 1], x[1:]),
                                                      heights))

    def reset_state(self):
        if self._built:
            super().reset_state()

    def get_config(self):
        config = {**super().get_config(), "num_thresholds": self.num_thresholds,
                  "curve": self.curve, "summation_method": self.summation_method,
                  "multi_label": self.multi_label, "num_labels": self.num_labels,
                  "label_weights": self.label_weights, "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = self._thresholds[1:-1]
        return config


def _even_thresholds(num_thresholds):
    """Keras's grid for the rate-at-rate metrics: 0 and 1 included, 0.5 alone for one."""
    if num_thresholds <= 0:
        raise ValueError("Argument `num_thresholds` must be an integer > 0. Received: "
                         f"num_thresholds={num_thresholds}")
    if num_thresholds == 1:
        return [0.5]
    inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
    return [0.0] + inner + [1.0]


class _RateAtRate(Metric):
    """The best `_dependent` rate over the thresholds where the `_constrained` rate is at
    least `value` (0 when none is). Subclasses name the two rates and the argument."""

    _constrained = _dependent = _argument = None

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        if not 0 <= value <= 1:
            raise ValueError(f"Argument `{self._argument}` must be in the range [0, 1]. "
                             f"Received: {self._argument}={value}")
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        self.value = value
        self.num_thresholds = num_thresholds
        self.class_id = class_id
        self.thresholds = _even_thresholds(num_thresholds)
        n = len(self.thresholds)
        self.true_positives = self.add_variable(shape=(n,), name="true_positives")
        self.false_positives = self.add_variable(shape=(n,), name="false_positives")
        self.true_negatives = self.add_variable(shape=(n,), name="true_negatives")
        self.false_negatives = self.add_variable(shape=(n,), name="false_negatives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        update_confusion_matrix_variables(
            {"tp": self.true_positives, "fp": self.false_positives,
             "tn": self.true_negatives, "fn": self.false_negatives},
            y_true, y_pred, self.thresholds, class_id=self.class_id,
            sample_weight=sample_weight)

    def _rate(self, kind):
        tp, fp = self.true_positives.value, self.false_positives.value
        tn, fn = self.true_negatives.value, self.false_negatives.value
        hits, misses = {"recall": (tp, fn), "precision": (tp, fp),
                        "specificity": (tn, fp)}[kind]
        return divide_no_nan(hits, ops.add(hits, misses))

    def result(self):
        feasible = ops.greater_equal(self._rate(self._constrained), self.value)
        dependent = self._rate(self._dependent)
        # Rates are >= 0, so zeroing the infeasible ones gives 0 when none is feasible.
        return ops.max(ops.where(feasible, dependent, ops.zeros_like(dependent)))

    def get_config(self):
        return {**super().get_config(), "class_id": self.class_id,
                "num_thresholds": self.num_thresholds, self._argument: self.value}


class SensitivityAtSpecificity(_RateAtRate):
    """The best sensitivity (recall) where specificity is >= `specificity`."""
    _constrained, _dependent, _argument = "specificity", "recall", "specificity"

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None,
                 dtype=None):
        super().__init__(specificity, num_thresholds, class_id, name, dtype)
        self.specificity = specificity


class SpecificityAtSensitivity(_RateAtRate):
    """The best specificity where sensitivity (recall) is >= `sensitivity`."""
    _constrained, _dependent, _argument = "recall", "specificity", "sensitivity"

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None,
                 dtype=None):
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)
        self.sensitivity = sensitivity


class PrecisionAtRecall(_RateAtRate):
    """The best precision where recall is >= `recall`."""
    _constrained, _dependent, _argument = "recall", "precision", "recall"

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(recall, num_thresholds, class_id, name, dtype)
        self.recall = recall


class RecallAtPrecision(_RateAtRate):
    """The best recall where precision is >= `precision`."""
    _constrained, _dependent, _argument = "precision", "recall", "precision"

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None,
                 dtype=None):
        super().__init__(precision, num_thresholds, class_id, name, dtype)
        self.precision = precision
