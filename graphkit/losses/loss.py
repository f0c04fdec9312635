"""`gk.losses.Loss`: the base class, and the reduction every loss shares (Keras 3's).

A loss computes one value per sample (`call`), weights it by `sample_weight` and any mask the
predictions carry, then reduces:
- `"sum_over_batch_size"` (default) and `"mean"`: the weighted sum over the number of
  values (weights do not change the divisor);
- `"mean_with_sample_weight"`: the weighted sum over the sum of the weights;
- `"sum"`: the weighted sum; `"none"` or None: the weighted values themselves.
"""
from graphkit import config, naming, ops, tree
from graphkit.core.tensor import Tensor

REDUCTIONS = ("sum_over_batch_size", "sum", "none", None, "mean", "mean_with_sample_weight")


def standardize_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"Invalid value for argument `reduction`: expected one of "
                         f"{REDUCTIONS}, received reduction={reduction!r}")
    return reduction


def get_keras_mask(x):
    return getattr(x, "_keras_mask", None)


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Make ranks equal when they differ by one and the longer one ends in a 1."""
    r1, r2 = len(x1.shape), len(x2.shape)
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = ops.expand_dims(x2, axis=-1)
        else:
            x1 = ops.squeeze(x1, axis=-1)
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = ops.expand_dims(x1, axis=-1)
        else:
            x2 = ops.squeeze(x2, axis=-1)
    return x1, x2


def divide_no_nan(a, b):
    """a / b, with 0 where b is 0 (the `where` inside keeps the gradient finite too)."""
    a, b = ops.convert_to_tensor(a), ops.convert_to_tensor(b)
    zero = ops.equal(b, 0)
    quotient = ops.divide(a, ops.where(zero, ops.ones_like(b), b))
    return ops.where(zero, ops.zeros_like(quotient), quotient)


def num_elements(x, dtype):
    """The element count of `x` as a Python float, or as a value when a dim is unknown."""
    if type(x) is Tensor:  # eager: every dim is known
        return float(x._array.size)
    dims = ops.shape(x)
    if all(isinstance(d, int) for d in dims):
        n = 1
        for d in dims:
            n *= d
        return float(n)
    count = ops.convert_to_tensor(1.0, dtype)
    for d in dims:
        count = ops.multiply(count, ops.cast(d, dtype))
    return count


def reduce_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    if reduction in (None, "none") or tuple(values.shape) in ((), (0,)):
        return values
    loss = ops.sum(values)
    if reduction == "sum":
        return loss
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return divide_no_nan(loss, ops.cast(ops.sum(sample_weight), loss.dtype))
    n = num_elements(values, loss.dtype)
    if isinstance(n, float):
        return ops.divide(loss, n) if n > 0 else loss
    return divide_no_nan(loss, n)


def apply_mask(sample_weight, mask, dtype, reduction):
    """Fold a mask into the sample weights.

    For mean reductions the valid entries are scaled by total/valid, so the mean is taken
    over the valid entries only.
    """
    if mask is None:
        return sample_weight
    mask = ops.cast(mask, dtype)
    if reduction in ("mean", "sum_over_batch_size"):
        total = num_elements(mask, dtype)
        mask = ops.multiply(mask, divide_no_nan(ops.convert_to_tensor(total, dtype), ops.sum(mask)))
    if sample_weight is None:
        return mask
    sample_weight = ops.cast(sample_weight, dtype)
    mask, sample_weight = squeeze_or_expand_to_same_rank(mask, sample_weight)
    return ops.multiply(sample_weight, mask)


def reduce_weighted_values(values, sample_weight=None, mask=None,
                           reduction="sum_over_batch_size", dtype=None):
    reduction = standardize_reduction(reduction)
    values = ops.convert_to_tensor(values, dtype=dtype)
    if sample_weight is not None:
        sample_weight = ops.convert_to_tensor(sample_weight, dtype=values.dtype)
    sample_weight = apply_mask(sample_weight, mask, values.dtype, reduction)
    if sample_weight is not None:
        sample_weight = ops.cast(sample_weight, values.dtype)
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        values = ops.multiply(values, sample_weight)
    return reduce_values(values, sample_weight, reduction)


def _to_tensors(structure, dtype):
    """Every leaf of `structure` as a tensor of `dtype` (a lone Tensor, the common case,
    without the tree walk)."""
    if type(structure) is Tensor:
        return ops.convert_to_tensor(structure, dtype)
    return tree.map_structure(lambda x: ops.convert_to_tensor(x, dtype), structure)


class Loss:
    """Subclasses define `call(y_true, y_pred)` returning per-sample losses."""

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or naming.auto_name(type(self).__name__)
        self.reduction = standardize_reduction(reduction)
        dtype = getattr(dtype, "compute_dtype", dtype)  # a DTypePolicy
        self._dtype = dtype or config.floatx()

    @property
    def dtype(self):
        return self._dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        in_mask = get_keras_mask(y_pred)
        dtype = self.dtype
        with naming.name_scope(self.name):
            y_pred = _to_tensors(y_pred, dtype)
            y_true = _to_tensors(y_true, dtype)
            losses = self.call(y_true, y_pred)
            out_mask = get_keras_mask(losses)
            if in_mask is not None and out_mask is not None:
                mask = ops.logical_and(in_mask, out_mask)
            else:
                mask = in_mask if in_mask is not None else out_mask
            return reduce_weighted_values(losses, sample_weight=sample_weight, mask=mask,
                                          reduction=self.reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        raise NotImplementedError(f"{type(self).__name__} must define call(y_true, y_pred)")

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"
