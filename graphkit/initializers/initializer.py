"""The `Initializer` base class: `init(shape, dtype=None)` returns a Tensor of that shape."""


class Initializer:
    """Subclasses implement `__call__(shape, dtype=None)` and `get_config()`."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError(
            f"{type(self).__name__} must implement __call__(shape, dtype=None), as every "
            f"Initializer subclass does")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def clone(self):
        return type(self).from_config(self.get_config())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def normalize_shape(shape, who):
    """A tuple of non-negative ints, or a ValueError naming the initializer."""
    if isinstance(shape, int):
        shape = (shape,)
    try:
        shape = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(f"{who}: `shape` must be a tuple of ints, received {shape!r}") from None
    if any(d < 0 for d in shape):
        raise ValueError(f"{who}: `shape` must not have negative sizes, received {shape}")
    return shape
