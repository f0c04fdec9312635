"""The built-in losses: per-sample functions (`mean_squared_error`, ...) and the `Loss`
classes that wrap them with a reduction (`MeanSquaredError`, ...). Formulas are Keras 3's.
"""
import math
import warnings

from graphkit import config, ops
from graphkit.losses.loss import Loss, squeeze_or_expand_to_same_rank


class LossFunctionWrapper(Loss):
    """A `Loss` around a per-sample function `fn(y_true, y_pred, **kwargs)`."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None,
                 **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction,
                         dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        config = super().get_config()
        config.update(self._fn_kwargs)
        if type(self) is LossFunctionWrapper:
            fn_name = getattr(self.fn, "__name__", None)
            if fn_name not in ALL_FUNCTIONS:
                raise ValueError(
                    f"LossFunctionWrapper '{self.name}': the function {self.fn!r} cannot be "
                    "serialized (only built-in loss functions can)")
            config["fn"] = fn_name
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if cls is LossFunctionWrapper:
            config["fn"] = ALL_FUNCTIONS[config["fn"]]
        return cls(**config)


def _pred_and_true(y_true, y_pred):
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true, dtype=y_pred.dtype)
    return y_true, y_pred


# -- per-sample functions -------------------------------------------------------------------

def mean_squared_error(y_true, y_pred):
    """mean((y_true - y_pred)**2) over the last axis."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_pred_and_true(y_true, y_pred))
    # y_pred - y_true, not Keras's y_true - y_pred: the square is bit for bit the same (the
    # two differences are exact negations), and the gradient reaches y_pred without a
    # negation pass over the batch.
    return ops.mean(ops.square(ops.subtract(y_pred, y_true)), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """mean(|y_true - y_pred|) over the last axis."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_pred_and_true(y_true, y_pred))
    return ops.mean(ops.abs(ops.subtract(y_true, y_pred)), axis=-1)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Mean binary cross-entropy over `axis`; labels are smoothed toward 0.5."""
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    if label_smoothing:
        y_true = ops.add(ops.multiply(y_true, 1.0 - label_smoothing), 0.5 * label_smoothing)
    return ops.mean(ops.binary_crossentropy(y_true, y_pred, from_logits=from_logits),
                    axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Cross-entropy between one-hot (or soft) labels and predictions along `axis`."""
    if isinstance(axis, bool):
        raise ValueError("categorical_crossentropy: `axis` must be an int, received "
                         f"axis={axis!r}")
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    if y_pred.shape[-1] == 1:
        warnings.warn(
            "In loss categorical_crossentropy, expected y_pred.shape to be (batch_size, "
            f"num_classes) with num_classes > 1. Received: y_pred.shape={y_pred.shape}. "
            "Consider using 'binary_crossentropy' if you only have 2 classes.",
            SyntaxWarning, stacklevel=2)
    if label_smoothing:
        num_classes = float(y_true.shape[-1])
        y_true = ops.add(ops.multiply(y_true, 1.0 - label_smoothing),
                         label_smoothing / num_classes)
    return ops.categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    """Cross-entropy between integer labels and predictions along `axis`.

    With `ignore_class`, samples of that label get loss 0 and a mask that excludes them
    from the mean.
    """
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true)
    if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, axis=-1)
    valid = None
    if ignore_class is not None:
        valid = ops.not_equal(y_true, ops.convert_to_tensor(ignore_class, y_true.dtype))
        y_true = ops.where(valid, y_true, ops.zeros_like(y_true))
        y_pred = ops.multiply(y_pred, ops.cast(ops.expand_dims(valid, -1), y_pred.dtype))
    y_true = ops.cast(y_true, "int32")
    result = ops.sparse_categorical_crossentropy(y_true, y_pred, from_logits=from_logits,
                                                 axis=axis)
    if valid is not None:
        valid = ops.reshape(valid, result.shape)
        result = ops.where(valid, result, ops.zeros_like(result))
        result._keras_mask = valid
    return result


def huber(y_true, y_pred, delta=1.0):
    """0.5 * e**2 where |e| <= delta, else delta * |e| - 0.5 * delta**2; mean over last axis."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_pred_and_true(y_true, y_pred))
    error = ops.subtract(y_pred, y_true)
    abs_error = ops.abs(error)
    quadratic = ops.multiply(0.5, ops.square(error))
    linear = ops.subtract(ops.multiply(float(delta), abs_error), 0.5 * float(delta) ** 2)
    return ops.mean(ops.where(ops.less_equal(abs_error, float(delta)), quadratic, linear),
                    axis=-1)


def kl_divergence(y_true, y_pred):
    """sum(y_true * log(y_true / y_pred)) over the last axis, both clipped to [eps, 1]."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_pred_and_true(y_true, y_pred))
    eps = config.epsilon()
    y_true = ops.clip(y_true, eps, 1.0)
    y_pred = ops.clip(y_pred, eps, 1.0)
    return ops.sum(ops.multiply(y_true, ops.log(ops.divide(y_true, y_pred))), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """100 * mean(|y_true - y_pred| / max(|y_true|, eps)) over the last axis."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_pred_and_true(y_true, y_pred))
    relative = ops.divide(ops.subtract(y_true, y_pred),
                          ops.maximum(ops.abs(y_true), config.epsilon()))
    return ops.multiply(100.0, ops.mean(ops.abs(relative), axis=-1))


def mean_squared_logarithmic_error(y_true, y_pred):
    """mean((log(1 + y_pred) - log(1 + y_true))**2) over the last axis, both floored at eps."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_pred_and_true(y_true, y_pred))
    eps = config.epsilon()
    log_pred = ops.log(ops.add(ops.maximum(y_pred, eps), 1.0))
    log_true = ops.log(ops.add(ops.maximum(y_true, eps), 1.0))
    return ops.mean(ops.square(ops.subtract(log_pred, log_true)), axis=-1)


def cosine_similarity(y_true, y_pred, axis=-1):
    """-sum(l2_normalize(y_true) * l2_normalize(y_pred)) along `axis`: -1 when aligned."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_pred_and_true(y_true, y_pred))
    products = ops.multiply(ops.normalize(y_true, axis=axis), ops.normalize(y_pred, axis=axis))
    return ops.negative(ops.sum(products, axis=axis))


def log_cosh(y_true, y_pred):
    """mean(log(cosh(y_pred - y_true))) over the last axis.

    Written as e + softplus(-2e) - log(2), which does not overflow where cosh would.
    """
    y_true, y_pred = squeeze_or_expand_to_same_rank(*_pred_and_true(y_true, y_pred))
    error = ops.subtract(y_pred, y_true)
    per_element = ops.add(error, ops.softplus(ops.multiply(error, -2.0)))
    return ops.mean(ops.subtract(per_element, math.log(2.0)), axis=-1)


def poisson(y_true, y_pred):
    """mean(y_pred - y_true * log(y_pred + eps)) over the last axis."""
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    log_pred = ops.log(ops.add(y_pred, config.epsilon()))
    return ops.mean(ops.subtract(y_pred, ops.multiply(y_true, log_pred)), axis=-1)


def convert_binary_labels_to_hinge(y_true):
    """Labels all in {0, 1} become {-1, 1}; any other labels are kept as they are.

    A `where` on the whole-tensor test, rather than a Python branch, so that it traces.
    """
    is_binary = ops.all(ops.logical_or(ops.equal(y_true, 0), ops.equal(y_true, 1)))
    return ops.where(is_binary, ops.subtract(ops.multiply(y_true, 2.0), 1.0), y_true)


def _hinge_margins(y_true, y_pred):
    """max(1 - y_true * y_pred, 0), labels converted to {-1, 1} first."""
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    y_true = convert_binary_labels_to_hinge(y_true)
    return ops.maximum(ops.subtract(1.0, ops.multiply(y_true, y_pred)), 0.0)


def hinge(y_true, y_pred):
    """mean(max(1 - y_true * y_pred, 0)) over the last axis; {0, 1} labels -> {-1, 1}."""
    return ops.mean(_hinge_margins(y_true, y_pred), axis=-1)


def squared_hinge(y_true, y_pred):
    """mean(max(1 - y_true * y_pred, 0)**2) over the last axis; {0, 1} labels -> {-1, 1}."""
    return ops.mean(ops.square(_hinge_margins(y_true, y_pred)), axis=-1)


def categorical_hinge(y_true, y_pred):
    """max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0) over the last axis."""
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    positive = ops.sum(ops.multiply(y_true, y_pred), axis=-1)
    negative = ops.max(ops.multiply(ops.subtract(1.0, y_true), y_pred), axis=-1)
    return ops.maximum(ops.add(ops.subtract(negative, positive), 1.0), 0.0)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25,
                              gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy scaled by (1 - p_t)**gamma, p_t being the probability given to
    the true label, and by alpha (positives) or 1 - alpha (negatives) when balancing."""
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    if label_smoothing:
        y_true = ops.add(ops.multiply(y_true, 1.0 - label_smoothing), 0.5 * label_smoothing)
    if from_logits:
        y_pred = ops.sigmoid(y_pred)
    bce = ops.binary_crossentropy(y_true, y_pred, from_logits=False)
    p_t = _mix(y_true, y_pred, ops.subtract(1.0, y_pred))
    focal_bce = ops.multiply(ops.power(ops.subtract(1.0, p_t), gamma), bce)
    if apply_class_balancing:
        focal_bce = ops.multiply(_mix(y_true, alpha, 1.0 - alpha), focal_bce)
    return ops.mean(focal_bce, axis=axis)


def _mix(y_true, if_positive, if_negative):
    """y_true * if_positive + (1 - y_true) * if_negative."""
    return ops.add(ops.multiply(y_true, if_positive),
                   ops.multiply(ops.subtract(1.0, y_true), if_negative))


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1):
    """sum(alpha * (1 - p)**gamma * -y_true * log(p)) along `axis`, p the predictions
    normalized to sum to 1 and clipped to [eps, 1 - eps]."""
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    if label_smoothing:
        num_classes = float(y_true.shape[-1])
        y_true = ops.add(ops.multiply(y_true, 1.0 - label_smoothing),
                         label_smoothing / num_classes)
    if from_logits:
        y_pred = ops.softmax(y_pred, axis=axis)
    eps = config.epsilon()
    output = ops.clip(ops.divide(y_pred, ops.sum(y_pred, axis=axis, keepdims=True)),
                      eps, 1.0 - eps)
    cross_entropy = ops.multiply(ops.negative(y_true), ops.log(output))
    weighting = ops.multiply(ops.power(ops.subtract(1.0, output), gamma), alpha)
    return ops.sum(ops.multiply(weighting, cross_entropy), axis=axis)


def dice(y_true, y_pred, axis=None):
    """1 - 2 * sum(y_true * y_pred) / (sum(y_true) + sum(y_pred) + eps), summed over `axis`
    (None: everything, one value for the batch)."""
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    intersection = ops.sum(ops.multiply(y_true, y_pred), axis=axis)
    union = ops.add(ops.add(ops.sum(y_true, axis=axis), ops.sum(y_pred, axis=axis)),
                    config.epsilon())
    return ops.subtract(1.0, ops.divide(ops.multiply(2.0, intersection), union))


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """1 - TP / (TP + alpha * FP + beta * FN + eps), soft counts summed over `axis`.

    As in Keras, FP counts the labels the predictions miss, sum((1 - y_pred) * y_true), and
    FN the predictions off the labels, sum(y_pred * (1 - y_true)).
    """
    y_true, y_pred = _pred_and_true(y_true, y_pred)
    true_pos = ops.sum(ops.multiply(y_true, y_pred), axis=axis)
    false_pos = ops.sum(ops.multiply(ops.subtract(1.0, y_pred), y_true), axis=axis)
    false_neg = ops.sum(ops.multiply(y_pred, ops.subtract(1.0, y_true)), axis=axis)
    denominator = ops.add(ops.add(true_pos, ops.multiply(false_pos, alpha)),
                          ops.add(ops.multiply(false_neg, beta), config.epsilon()))
    return ops.subtract(1.0, ops.divide(true_pos, denominator))


def categorical_generalized_cross_entropy(y_true, y_pred, q):
    """(1 - p**q) / q, p the predicted probability of the integer label `y_true`: between
    cross-entropy (q -> 0) and MAE (q = 1), robust to noisy labels (Zhang & Sabuncu 2018)."""
    y_pred = ops.convert_to_tensor(y_pred)
    one_hot = ops.cast(ops.one_hot(ops.cast(y_true, "int32"), y_pred.shape[-1]), y_pred.dtype)
    p = ops.sum(ops.multiply(y_pred, one_hot), axis=-1)
    return ops.divide(ops.subtract(1.0, ops.power(p, q)), q)


# A finite stand-in for -inf in the masked log-sum-exps of `circle`: rows with nothing to sum
# are zeroed separately, so no inf goes through the compiled code.
_MASKED_LOGIT = -1e9


def _pair_masks(labels, ref_labels, remove_diagonal):
    """(positive, negative) pair masks: same label or not, self-pairs not positive."""
    labels = ops.reshape(labels, (-1, 1))
    ref_labels = ops.reshape(ref_labels, (-1, 1))
    positive = ops.equal(labels, ops.transpose(ref_labels))
    negative = ops.logical_not(positive)
    if remove_diagonal:
        off_diagonal = ops.logical_not(ops.eye(labels.shape[0], ref_labels.shape[0],
                                               dtype="bool"))
        positive = ops.logical_and(positive, off_diagonal)
    return positive, negative


def _masked_logsumexp(logits, mask):
    return ops.logsumexp(ops.where(mask, logits, ops.full_like(logits, _MASKED_LOGIT)),
                         axis=1)


def circle(y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal=True,
           gamma=80, margin=0.4):
    """Circle loss (Sun et al. 2020) over the cosine distances between the embeddings
    `y_pred` (expected L2-normalized) and `ref_embeddings` (default: themselves).

    As in Keras, a row without positive or without negative pairs gives 0 and is masked out
    of the mean, as are rows whose loss underflows to 0.
    """
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(y_true, "int32")
    ref_embeddings = y_pred if ref_embeddings is None else ops.convert_to_tensor(
        ref_embeddings, dtype=y_pred.dtype)
    ref_labels = y_true if ref_labels is None else ops.cast(ref_labels, "int32")
    distances = ops.maximum(
        ops.subtract(1.0, ops.matmul(y_pred, ops.transpose(ref_embeddings))), 0.0)
    positive, negative = _pair_masks(y_true, ref_labels, remove_diagonal)
    pos_weights = ops.maximum(ops.multiply(ops.add(margin, distances),
                                           ops.cast(positive, distances.dtype)), 0.0)
    neg_weights = ops.maximum(ops.multiply(ops.subtract(1.0 + margin, distances),
                                           ops.cast(negative, distances.dtype)), 0.0)
    pos_logits = ops.multiply(-float(gamma), ops.multiply(
        pos_weights, ops.subtract(margin, distances)))
    neg_logits = ops.multiply(float(gamma), ops.multiply(
        neg_weights, ops.subtract(1.0 - margin, distances)))
    total = ops.add(_masked_logsumexp(pos_logits, positive),
                    _masked_logsumexp(neg_logits, negative))
    has_both = ops.logical_and(ops.any(positive, axis=1), ops.any(negative, axis=1))
    loss = ops.where(has_both, ops.softplus(total), ops.zeros_like(total))
    loss._keras_mask = ops.greater(loss, 0.0)
    return loss


# -- Loss classes ---------------------------------------------------------------------------

class _ConfiglessLoss(LossFunctionWrapper):
    """A loss whose config is only its name and reduction (as Keras's, even where the
    function takes an argument, such as CosineSimilarity's `axis`)."""

    def get_config(self):
        return Loss.get_config(self)


class MeanSquaredError(_ConfiglessLoss):
    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error",
                 dtype=None):
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsoluteError(_ConfiglessLoss):
    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error",
                 dtype=None):
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsolutePercentageError(_ConfiglessLoss):
    def __init__(self, reduction="sum_over_batch_size",
                 name="mean_absolute_percentage_error", dtype=None):
        super().__init__(mean_absolute_percentage_error, reduction=reduction, name=name,
                         dtype=dtype)


class MeanSquaredLogarithmicError(_ConfiglessLoss):
    def __init__(self, reduction="sum_over_batch_size",
                 name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(mean_squared_logarithmic_error, reduction=reduction, name=name,
                         dtype=dtype)


class CosineSimilarity(_ConfiglessLoss):
    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity",
                 dtype=None):
        super().__init__(cosine_similarity, reduction=reduction, name=name, dtype=dtype,
                         axis=axis)


class LogCosh(_ConfiglessLoss):
    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(log_cosh, reduction=reduction, name=name, dtype=dtype)


class Hinge(_ConfiglessLoss):
    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(hinge, reduction=reduction, name=name, dtype=dtype)


class SquaredHinge(_ConfiglessLoss):
    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, reduction=reduction, name=name, dtype=dtype)


class CategoricalHinge(_ConfiglessLoss):
    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge",
                 dtype=None):
        super().__init__(categorical_hinge, reduction=reduction, name=name, dtype=dtype)


class KLDivergence(_ConfiglessLoss):
    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, reduction=reduction, name=name, dtype=dtype)


class Poisson(_ConfiglessLoss):
    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(poisson, reduction=reduction, name=name, dtype=dtype)

class BinaryCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(binary_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class CategoricalCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy",
                 dtype=None):
        super().__init__(categorical_crossentropy, reduction=reduction, name=name,
                         dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits=False, ignore_class=None,
                 reduction="sum_over_batch_size", name="sparse_categorical_crossentropy",
                 dtype=None):
        super().__init__(sparse_categorical_crossentropy, reduction=reduction, name=name,
                         dtype=dtype, from_logits=from_logits, ignore_class=ignore_class)
        self.from_logits = from_logits
        self.ignore_class = ignore_class


class Huber(LossFunctionWrapper):
    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss",
                 dtype=None):
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=delta)
        self.delta = delta

class BinaryFocalCrossentropy(LossFunctionWrapper):
    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0,
                 from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_focal_crossentropy",
                 dtype=None):
        super().__init__(binary_focal_crossentropy, reduction=reduction, name=name,
                         dtype=dtype, apply_class_balancing=apply_class_balancing,
                         alpha=alpha, gamma=gamma, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.apply_class_balancing = apply_class_balancing
        self.alpha = alpha
        self.gamma = gamma
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class CategoricalFocalCrossentropy(LossFunctionWrapper):
    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                 axis=-1, reduction="sum_over_batch_size",
                 name="categorical_focal_crossentropy", dtype=None):
        super().__init__(categorical_focal_crossentropy, reduction=reduction, name=name,
                         dtype=dtype, alpha=alpha, gamma=gamma, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.alpha = alpha
        self.gamma = gamma
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class Dice(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None, dtype=None):
        super().__init__(dice, reduction=reduction, name=name, dtype=dtype, axis=axis)
        self.axis = axis


class Tversky(LossFunctionWrapper):
    def __init__(self, alpha=0.5, beta=0.5, reduction="sum_over_batch_size", name="tversky",
                 axis=None, dtype=None):
        super().__init__(tversky, reduction=reduction, name=name, dtype=dtype, alpha=alpha,
                         beta=beta, axis=axis)
        self.alpha = alpha
        self.beta = beta
        self.axis = axis


class CategoricalGeneralizedCrossEntropy(LossFunctionWrapper):
    """Generalized cross-entropy of integer labels; `q` in (0, 1)."""

    def __init__(self, q=0.5, reduction="sum_over_batch_size",
                 name="categorical_generalized_cross_entropy", dtype=None):
        if not 0 < q < 1:
            raise ValueError(f"q must be in the interval (0, 1), received q={q!r}")
        super().__init__(categorical_generalized_cross_entropy, reduction=reduction,
                         name=name, dtype=dtype, q=q)
        self.q = q


class Circle(LossFunctionWrapper):
    """Circle loss of integer labels and L2-normalized embeddings."""

    def __init__(self, gamma=80.0, margin=0.4, remove_diagonal=True,
                 reduction="sum_over_batch_size", name="circle", dtype=None):
        super().__init__(circle, reduction=reduction, name=name, dtype=dtype, gamma=gamma,
                         margin=margin, remove_diagonal=remove_diagonal)
        self.gamma = gamma
        self.margin = margin
        self.remove_diagonal = remove_diagonal


ALL_CLASSES = (MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy,
               CategoricalCrossentropy, SparseCategoricalCrossentropy, Huber, KLDivergence,
               MeanAbsolutePercentageError, MeanSquaredLogarithmicError, CosineSimilarity,
               LogCosh, Hinge, SquaredHinge, CategoricalHinge, Poisson,
               BinaryFocalCrossentropy, CategoricalFocalCrossentropy, Dice, Tversky,
               CategoricalGeneralizedCrossEntropy, Circle)

ALL_FUNCTIONS = {
    "mean_squared_error": mean_squared_error, "mse": mean_squared_error,
    "MSE": mean_squared_error,
    "mean_absolute_error": mean_absolute_error, "mae": mean_absolute_error,
    "MAE": mean_absolute_error,
    "binary_crossentropy": binary_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "huber": huber, "huber_loss": huber,
    "kl_divergence": kl_divergence, "kld": kl_divergence, "KLD": kl_divergence,
    "kullback_leibler_divergence": kl_divergence,
    "mean_absolute_percentage_error": mean_absolute_percentage_error,
    "mape": mean_absolute_percentage_error, "MAPE": mean_absolute_percentage_error,
    "mean_squared_logarithmic_error": mean_squared_logarithmic_error,
    "msle": mean_squared_logarithmic_error, "MSLE": mean_squared_logarithmic_error,
    "cosine_similarity": cosine_similarity,
    "log_cosh": log_cosh, "logcosh": log_cosh,
    "poisson": poisson,
    "hinge": hinge, "squared_hinge": squared_hinge, "categorical_hinge": categorical_hinge,
    "binary_focal_crossentropy": binary_focal_crossentropy,
    "categorical_focal_crossentropy": categorical_focal_crossentropy,
    "dice": dice, "tversky": tversky,
    "categorical_generalized_cross_entropy": categorical_generalized_cross_entropy,
    "circle": circle,
    "bce": binary_crossentropy, "BCE": binary_crossentropy,
}
