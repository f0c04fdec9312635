"""Weight regularizers: `reg(weight)` is a scalar loss, computed with gk.ops (so it traces
and differentiates like any other loss)."""
import math

from graphkit import ops


def _check_factor(value, name, who):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            math.isinf(value) or math.isnan(value) or value < 0:
        raise ValueError(f"{who}: invalid value for argument `{name}`: expected a "
                         f"non-negative float, received {name}={value!r}")
    return float(value)


class Regularizer:
    """Base class: subclasses implement `__call__(x)` and `get_config()`."""

    def __call__(self, x):
        return 0.0

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _l1_term(factor, x):
    return ops.multiply(ops.sum(ops.abs(x)), factor)


def _l2_term(factor, x):
    return ops.multiply(ops.sum(ops.square(x)), factor)


class L1L2(Regularizer):
    """`l1 * sum(|x|) + l2 * sum(x**2)`; both factors default to 0."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _check_factor(0.0 if l1 is None else l1, "l1", "L1L2")
        self.l2 = _check_factor(0.0 if l2 is None else l2, "l2", "L1L2")

    def __call__(self, x):
        x = ops.convert_to_tensor(x)
        total = ops.zeros((), dtype=x.dtype)
        if self.l1:
            total = ops.add(total, _l1_term(self.l1, x))
        if self.l2:
            total = ops.add(total, _l2_term(self.l2, x))
        return total

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """`l1 * sum(|x|)`."""

    def __init__(self, l1=0.01):
        self.l1 = _check_factor(0.01 if l1 is None else l1, "l1", "L1")

    def __call__(self, x):
        return _l1_term(self.l1, ops.convert_to_tensor(x))

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """`l2 * sum(x**2)`."""

    def __init__(self, l2=0.01):
        self.l2 = _check_factor(0.01 if l2 is None else l2, "l2", "L2")

    def __call__(self, x):
        return _l2_term(self.l2, ops.convert_to_tensor(x))

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """`factor * 0.5 * mean |cos|` over the distinct pairs of rows (`mode="rows"`) or
    columns (`mode="columns"`) of a rank-2 weight, pushing them to be orthogonal."""

    MODES = ("rows", "columns")

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _check_factor(factor, "factor", "OrthogonalRegularizer")
        if mode not in self.MODES:
            raise ValueError("Invalid value for argument `mode`. Expected one of "
                             f"{self.MODES}. Received: mode={mode!r}")
        self.mode = mode

    def __call__(self, x):
        x = ops.convert_to_tensor(x)
        if len(x.shape) != 2:
            raise ValueError("Inputs to OrthogonalRegularizer must have rank 2. Received: "
                             f"inputs.shape={tuple(x.shape)}")
        if self.mode == "columns":
            x = ops.transpose(x)
        x = ops.normalize(x, axis=1)
        size = x.shape[0]
        product = ops.matmul(x, ops.transpose(x))
        # The diagonal is |v|**2 = 1 for each vector, not a pair: leave it out.
        off_diagonal = ops.multiply(product, ops.subtract(1.0, ops.eye(size, dtype=x.dtype)))
        num_pairs = size * (size - 1.0) / 2.0
        return ops.multiply(ops.sum(ops.abs(off_diagonal)), self.factor * 0.5 / num_pairs)

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}
