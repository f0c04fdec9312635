"""The built-in activation functions, each a thin function over `gk.ops`.

They follow Keras 3's names, signatures and defaults (`relu(x, negative_slope=0.0,
max_value=None, threshold=0.0)`, `leaky_relu(x, negative_slope=0.2)`, `gelu(x,
approximate=False)`, ...), so that a Keras model's activations mean the same here.
"""
from graphkit import ops


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """`max(x, 0)`, with Keras's optional leak, ceiling and threshold.

    For `x >= max_value`: `max_value`; for `threshold <= x < max_value`: `x`;
    below the threshold: `negative_slope * (x - threshold)`.
    """
    x = ops.convert_to_tensor(x)
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return ops.relu(x)
    if negative_slope != 0.0 and max_value is None and threshold == 0.0:
        return ops.leaky_relu(x, negative_slope=negative_slope)
    below = ops.relu(ops.subtract(threshold, x)) if negative_slope != 0.0 else None
    if threshold != 0.0:
        # x where x > threshold, else 0 (not relu(x - threshold): Keras keeps x itself).
        x = ops.multiply(x, ops.cast(ops.greater(x, threshold), x.dtype))
    else:
        x = ops.relu(x)
    if max_value is not None:
        x = ops.clip(x, 0.0, max_value)
    if below is not None:
        x = ops.subtract(x, ops.multiply(negative_slope, below))
    return x


def leaky_relu(x, negative_slope=0.2):
    return ops.leaky_relu(x, negative_slope=negative_slope)


def relu6(x):
    return ops.relu6(x)


def elu(x, alpha=1.0):
    return ops.elu(x, alpha=alpha)


def selu(x):
    return ops.selu(x)


def softplus(x):
    return ops.softplus(x)


def softsign(x):
    x = ops.convert_to_tensor(x)
    return ops.divide(x, ops.add(ops.abs(x), 1.0))


def silu(x):
    return ops.silu(x)


# Keras registers `swish` as another name of the same function.
swish = silu


def gelu(x, approximate=False):
    """The exact GELU `x * Phi(x)` by default, as Keras's `"gelu"` string means."""
    return ops.gelu(x, approximate=approximate)


def tanh(x):
    return ops.tanh(x)


def sigmoid(x):
    return ops.sigmoid(x)


def hard_sigmoid(x):
    """Keras 3's piecewise-linear sigmoid: `relu6(x + 3) / 6`."""
    return ops.divide(ops.relu6(ops.add(x, 3.0)), 6.0)


def hard_silu(x):
    x = ops.convert_to_tensor(x)
    return ops.multiply(x, hard_sigmoid(x))


hard_swish = hard_silu


def exponential(x):
    return ops.exp(x)


def mish(x):
    x = ops.convert_to_tensor(x)
    return ops.multiply(x, ops.tanh(ops.softplus(x)))


def softmax(x, axis=-1):
    return ops.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    return ops.log_softmax(x, axis=axis)


def linear(x):
    """The identity (what `activation=None` means)."""
    return x


# -- Keras 3's further activations: the ops themselves (same names, same signatures) ------
FROM_OPS = ("celu", "glu", "hard_shrink", "hard_tanh", "log_sigmoid", "soft_shrink",
            "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus", "tanh_shrink",
            "threshold")
globals().update({name: getattr(ops, name) for name in FROM_OPS})
