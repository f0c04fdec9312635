"""Weight constraints: `constraint(w)` returns the projected weight, computed with gk.ops.
The optimizer applies a variable's constraint after each update."""
from graphkit import config, ops


class Constraint:
    """Base class: the identity. Subclasses implement `__call__(w)` and `get_config()`."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _norms(w, axis):
    """The L2 norms of `w` over `axis`, kept as size-1 dims so they broadcast back."""
    return ops.sqrt(ops.sum(ops.square(w), axis=axis, keepdims=True))


def _rescale(w, desired, norms):
    """w * desired / (epsilon + norms): Keras's formula, safe for zero norms."""
    return ops.multiply(w, ops.divide(desired, ops.add(norms, config.epsilon())))


class MaxNorm(Constraint):
    """Rescale the slices along `axis` whose L2 norm exceeds `max_value`."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        w = ops.convert_to_tensor(w)
        norms = _norms(w, self.axis)
        return _rescale(w, ops.clip(norms, 0, self.max_value), norms)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Zero the negative entries."""

    def __call__(self, w):
        w = ops.convert_to_tensor(w)
        # max(w, 0) as in Keras: multiplying by a 0/1 mask would give -0.0 for negative
        # entries and NaN for -inf.
        return ops.maximum(w, 0)


class UnitNorm(Constraint):
    """Divide the slices along `axis` by their L2 norm."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w = ops.convert_to_tensor(w)
        return ops.divide(w, ops.add(_norms(w, self.axis), config.epsilon()))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Move the L2 norms along `axis` into [min_value, max_value] at `rate`
    (1.0: all the way; below 1: `rate * clipped + (1 - rate) * norm`)."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        w = ops.convert_to_tensor(w)
        norms = _norms(w, self.axis)
        clipped = ops.clip(norms, self.min_value, self.max_value)
        desired = ops.add(ops.multiply(clipped, self.rate), ops.multiply(norms, 1 - self.rate))
        return _rescale(w, desired, norms)

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}
