"""Random transforms of existing tensors: dropout and shuffle."""
from graphkit import config, dtypes, ops
from graphkit.ops.random import bits_to_unit_float, random_bits, random_permutation
from graphkit.random.seed_generator import draw_key


def _noise_shape(inputs, noise_shape):
    """Keras's rule: None entries of `noise_shape` take the input's size on that axis."""
    shape = tuple(inputs.shape)
    if noise_shape is None:
        noise_shape = shape
    noise_shape = tuple(noise_shape)
    if len(noise_shape) != len(shape):
        raise ValueError(f"gk.random.dropout: `noise_shape` {noise_shape} must have the rank "
                         f"of the inputs, whose shape is {shape}")
    concrete = tuple(s if d is None else int(d) for d, s in zip(noise_shape, shape))
    if any(d is None for d in concrete):
        raise ValueError(f"gk.random.dropout: the noise shape must be fully known, received "
                         f"noise_shape={noise_shape} for inputs of shape {shape}")
    return concrete


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Zero each entry with probability `rate` and scale the kept ones by 1 / (1 - rate).

    The keep mask is `uniform(noise_shape) < 1 - rate` in float32 (exact, so compiled code
    drops the same entries), broadcast to the inputs' shape.
    """
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise ValueError(f"gk.random.dropout: `rate` must be a number in [0, 1], "
                         f"received rate={rate!r}")
    inputs = ops.convert_to_tensor(inputs)
    if not dtypes.is_float(inputs.dtype):
        inputs = ops.cast(inputs, config.floatx())
    keep_prob = 1.0 - float(rate)
    key = draw_key(seed, "gk.random.dropout")
    shape = _noise_shape(inputs, noise_shape)
    if keep_prob == 0.0:  # everything dropped; dividing by zero would make NaNs
        return ops.zeros_like(inputs)
    keep = ops.less(bits_to_unit_float(random_bits(key, shape), "float32"), keep_prob)
    keep = ops.broadcast_to(keep, inputs.shape)
    return ops.where(keep, ops.divide(inputs, keep_prob), ops.zeros_like(inputs))


def shuffle(x, axis=0, seed=None):
    """`x` with its slices along `axis` in a random order (one permutation for all)."""
    x = ops.convert_to_tensor(x)
    if not -x.ndim <= axis < max(x.ndim, 1) or x.ndim == 0:
        raise ValueError(f"gk.random.shuffle: `axis` {axis} is out of range for a tensor "
                         f"of shape {tuple(x.shape)}")
    n = x.shape[axis]
    if n is None:
        raise ValueError(f"gk.random.shuffle: the size of axis {axis} must be known, "
                         f"received shape {tuple(x.shape)}")
    perm = random_permutation(draw_key(seed, "gk.random.shuffle"), n)
    return ops.take(x, perm, axis=axis)
