"""F-scores: weighted counts of true/false positives and false negatives per class (or in
total, "micro"), and the F-beta score from them (Keras 3's definitions)."""
from graphkit import config, ops
from graphkit.metrics.metric import Metric, require_2d

AVERAGES = (None, "micro", "macro", "weighted")


def _check_arguments(average, beta, threshold):
    if average not in AVERAGES:
        raise ValueError("Invalid `average` argument value. Expected one of: "
                         f"{{None, 'micro', 'macro', 'weighted'}}. Received: average={average}")
    if not isinstance(beta, float):
        raise ValueError("Invalid `beta` argument value. It should be a Python float. "
                         f"Received: beta={beta} of type '{type(beta)}'")
    if beta <= 0.0:
        raise ValueError(f"Invalid `beta` argument value. It should be > 0. Received: "
                         f"beta={beta}")
    if threshold is not None and (not isinstance(threshold, float)
                                  or not 0.0 < threshold <= 1.0):
        raise ValueError("Invalid `threshold` argument value. It should be a Python float "
                         f"with 0 < threshold <= 1. Received: threshold={threshold!r}")


class FBetaScore(Metric):
    """(1 + beta**2) * precision * recall / (beta**2 * precision + recall), per class.

    Predictions above `threshold` count as positive; without a threshold, each row's
    largest (non-zero) prediction. `average`: None (one score per class), "micro" (from
    the total counts), "macro" (the mean of the class scores) or "weighted" (their mean
    weighted by the number of true labels of each class).
    """

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score",
                 dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "up"
        _check_arguments(average, beta, threshold)
        self.average = average
        self.beta = beta
        self.threshold = threshold
        # Micro-averaging counts over classes too.
        self.axis = None if average == "micro" else 0
        self._built = False

    def build_state(self, y_true, y_pred):
        """The count variables, from the shapes (the trainer calls this before it traces a
        step)."""
        if self._built:
            return
        y_pred_shape = tuple(y_pred.shape)
        require_2d(self, tuple(y_true.shape), y_pred_shape)
        shape = () if self.average == "micro" else (y_pred_shape[-1],)
        for name in ("true_positives", "false_positives", "false_negatives",
                     "intermediate_weights"):
            setattr(self, name, self.add_variable(shape=shape, name=name))
        self._built = True

    def _predicted_positive(self, y_pred):
        if self.threshold is not None:
            return ops.greater(y_pred, self.threshold)
        row_max = ops.max(y_pred, axis=-1, keepdims=True)
        # |x| > 1e-9, not x != 0: a row of zeros has no positive, not all positives.
        return ops.logical_and(ops.greater_equal(y_pred, row_max),
                               ops.greater(ops.abs(y_pred), 1e-9))

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.convert_to_tensor(y_true, self.dtype)
        y_pred = ops.convert_to_tensor(y_pred, self.dtype)
        self.build_state(y_true, y_pred)
        y_pred = ops.cast(self._predicted_positive(y_pred), self.dtype)
        if sample_weight is not None:
            sample_weight = ops.expand_dims(ops.convert_to_tensor(sample_weight, self.dtype), 1)
        not_pred, not_true = ops.subtract(1.0, y_pred), ops.subtract(1.0, y_true)
        for variable, hits in ((self.true_positives, ops.multiply(y_pred, y_true)),
                               (self.false_positives, ops.multiply(y_pred, not_true)),
                               (self.false_negatives, ops.multiply(not_pred, y_true)),
                               (self.intermediate_weights, y_true)):
            if sample_weight is not None:
                hits = ops.multiply(hits, sample_weight)
            variable.assign(ops.add(variable, ops.sum(hits, axis=self.axis)))

    def result(self):
        eps = config.epsilon()
        tp = self.true_positives.value
        precision = ops.divide(tp, ops.add(ops.add(tp, self.false_positives), eps))
        recall = ops.divide(tp, ops.add(ops.add(tp, self.false_negatives), eps))
        beta_squared = self.beta ** 2
        denominator = ops.add(ops.add(ops.multiply(beta_squared, precision), recall), eps)
        score = ops.multiply(ops.divide(ops.multiply(precision, recall), denominator),
                             1.0 + beta_squared)
        if self.average == "weighted":
            support = self.intermediate_weights.value
            weights = ops.divide(support, ops.add(ops.sum(support), eps))
            return ops.sum(ops.multiply(score, weights))
        if self.average is not None:  # micro (one score already) and macro
            return ops.mean(score)
        return score

    def get_config(self):
        return {**super().get_config(), "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """The F-beta score with beta 1: the harmonic mean of precision and recall."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name,
                         dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config
