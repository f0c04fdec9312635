"""Random primitives: a counter-based Philox-4x32-10 generator and exact bits-to-float.

Counter-based means the numbers are a pure function of (key, position): there is no hidden
state, so the same key gives the same bits eagerly, in the IR interpreter and in compiled
code. `gk.random` keeps the state (a SeedGenerator variable) and passes keys in explicitly.

The stream, defined exactly so that codegen can reproduce it bit for bit:
- `key` is a uint32 tensor of shape (2,): the Philox key (k0, k1).
- The output of `random_bits(key, shape)` is filled in C order. Flat element `i` is word
  `i % 4` of the Philox-4x32-10 block for the counter
  `(b & 0xffffffff, b >> 32, 0, 0)` with `b = i // 4`.
- `bits_to_unit_float(bits, dtype)` maps a uint32 to [0, 1) with an integer shift, an
  integer-to-float conversion and a multiplication by a power of two, all exact:
  `float((bits >> (32 - m))) * 2**-m` with `m = 24` (float32), `11` (float16), `32` (float64).
- `random_permutation(key, n)` is the stable argsort of `random_bits(key, (n,))` (ties are
  broken by index), as int32.

None of these is differentiable: random numbers are constants to autodiff.
"""
import numpy as np

from graphkit import dtypes
from graphkit.ops.convert import to_value
from graphkit.ops.primitive import Aval, Primitive, ShapeError, bind

# Philox-4x32 constants (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", 2011).
PHILOX_M0 = 0xD2511F53
PHILOX_M1 = 0xCD9E8D57
PHILOX_W0 = 0x9E3779B9  # golden ratio
PHILOX_W1 = 0xBB67AE85  # sqrt(3) - 1
PHILOX_ROUNDS = 10
_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)

# Significand bits kept when turning 32 random bits into a float in [0, 1).
UNIT_FLOAT_BITS = {"float16": 11, "float32": 24, "float64": 32}


def philox4x32_10(counter, key):
    """The Philox-4x32-10 block function, vectorized.

    `counter`: 4 arrays (any common shape) of 32-bit words; `key`: 2 words (scalars or
    arrays broadcasting with the counter). Returns 4 uint32 arrays. The 32x32 -> 64-bit
    products run in uint64, which cannot overflow.
    """
    c0, c1, c2, c3 = (np.asarray(c).astype(np.uint64) for c in counter)
    k0, k1 = (np.asarray(k).astype(np.uint64) for k in key)
    m0, m1 = np.uint64(PHILOX_M0), np.uint64(PHILOX_M1)
    w0, w1 = np.uint64(PHILOX_W0), np.uint64(PHILOX_W1)
    for r in range(PHILOX_ROUNDS):
        if r:  # the key schedule: bump before every round but the first
            k0 = (k0 + w0) & _MASK32
            k1 = (k1 + w1) & _MASK32
        p0 = m0 * c0
        p1 = m1 * c2
        hi0, lo0 = p0 >> _SHIFT32, p0 & _MASK32
        hi1, lo1 = p1 >> _SHIFT32, p1 & _MASK32
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    return tuple(c.astype(np.uint32) for c in (c0, c1, c2, c3))


def philox_stream(key, n):
    """The first `n` uint32 words of the stream for `key` (a 2-word array), as a flat array."""
    key = np.asarray(key, dtype=np.uint32)
    n_blocks = -(-int(n) // 4)
    block = np.arange(n_blocks, dtype=np.uint64)
    zeros = np.zeros(n_blocks, dtype=np.uint64)
    words = philox4x32_10((block & _MASK32, block >> _SHIFT32, zeros, zeros),
                          (key[0], key[1]))
    return np.stack(words, axis=-1).reshape(-1)[:n]


def _check_key(op, key):
    if key.dtype != "uint32" or tuple(key.shape) != (2,):
        raise ShapeError(f"{op}: `key` must be a uint32 tensor of shape (2,), "
                         f"received {key.dtype}{list(key.shape)}")


def _static_shape(op, shape):
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        shape = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(f"{op}: `shape` must be a tuple of non-negative ints known before "
                         f"running, received {shape!r}") from None
    if any(d < 0 for d in shape):
        raise ValueError(f"{op}: `shape` must not have negative sizes, received {shape}")
    return shape


# -- random_bits ---------------------------------------------------------------------------

def _random_bits_kernel(key, shape):
    n = int(np.prod(shape, dtype=np.int64))
    return philox_stream(key, n).reshape(shape)


def _random_bits_infer(key, shape):
    _check_key("random_bits", key)
    return Aval(shape, "uint32")


RANDOM_BITS = Primitive("random_bits", eager=_random_bits_kernel, infer=_random_bits_infer,
                        category="random", effect="random", scalar_expr="philox4x32_10",
                        attr_names=("shape",))


def random_bits(key, shape):
    """uint32 random bits of `shape` from a uint32 `key` of shape (2,) (see module doc)."""
    key = to_value(key)
    _check_key("random_bits", key)  # eager binds skip `infer`: check here for every mode
    return bind(RANDOM_BITS, key, shape=_static_shape("random_bits", shape))


# -- bits_to_unit_float ----------------------------------------------------------------------

def _unit_float_kernel(bits, dtype):
    m = UNIT_FLOAT_BITS[dtype]
    kept = (bits >> np.uint32(32 - m)).astype(dtype)  # < 2**m: exact in `dtype`
    return kept * np.asarray(2.0 ** -m, dtype=dtype)  # a power of two: exact


def _unit_float_infer(bits, dtype):
    if bits.dtype != "uint32":
        raise ShapeError(f"bits_to_unit_float: `bits` must be uint32, received {bits.dtype}")
    return Aval(bits.shape, dtype)


BITS_TO_UNIT_FLOAT = Primitive(
    "bits_to_unit_float", eager=_unit_float_kernel, infer=_unit_float_infer,
    category="elementwise", scalar_expr="bits_to_unit_float", attr_names=("dtype",))


def bits_to_unit_float(bits, dtype="float32"):
    """Floats in [0, 1) from uint32 bits: `(bits >> (32 - m)) * 2**-m`, exactly."""
    dtype = dtypes.standardize_dtype(dtype)
    if dtype not in UNIT_FLOAT_BITS:
        raise ValueError(f"bits_to_unit_float: `dtype` must be a float dtype "
                         f"({', '.join(UNIT_FLOAT_BITS)}), received {dtype!r}")
    bits = to_value(bits)
    _unit_float_infer(bits, dtype)  # eager binds skip `infer`: check here for every mode
    return bind(BITS_TO_UNIT_FLOAT, bits, dtype=dtype)


# -- random_permutation ----------------------------------------------------------------------

def _permutation_kernel(key, n):
    return np.argsort(philox_stream(key, n), kind="stable").astype(np.int32)


def _permutation_infer(key, n):
    _check_key("random_permutation", key)
    return Aval((n,), "int32")


RANDOM_PERMUTATION = Primitive(
    "random_permutation", eager=_permutation_kernel, infer=_permutation_infer,
    category="random", effect="random", attr_names=("n",))


def random_permutation(key, n):
    """A permutation of range(n) (int32): the stable argsort of `random_bits(key, (n,))`."""
    (n,) = _static_shape("random_permutation", (n,))
    key = to_value(key)
    _check_key("random_permutation", key)
    return bind(RANDOM_PERMUTATION, key, n=n)
