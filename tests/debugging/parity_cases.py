"""The parity sweep's case tables and runner: every primitive, every public `gk.ops` op and
every built-in layer, run eagerly and compiled by `gk.debugging.compare`.

One table row per case: the op (or layer), a function of float32 (and index) inputs, the
inputs, and the *bound* the compiled result must meet against the eager one, with the
reason for that bound written next to it. Bounds:

- EXACT: bit-identical. Integer, boolean and selection results (comparisons, argmax,
  gathers, layout, max/min, random bits...), and anything random (dropout, sampling).
- REL: float32 relative error at most 1e-5 per element (|c - e| <= 1e-5 |e|, no absolute
  floor). The default for floats: one correctly rounded IEEE op per element, or a short
  chain of them.
- ulp_bound(op): a transcendental primitive implemented by graphkit/codegen/mathlib.py.
  The compiled value is within ULP_BOUNDS[op] ulps of the float64 truth (mathlib's
  documented bound), and the eager NumPy float32 value within E ulps of it, E measured on
  the case's own inputs. By the triangle inequality they are at most ULP_BOUNDS[op] + E
  apart. E itself is asserted to stay small (<= MAX_EAGER_ULP), so the bound cannot grow
  silently.
- NORM: relative error 1e-5 against the largest magnitude of the output (|c - e| <=
  1e-5 (|e| + max|e|)). For accumulations (sums, matmul, conv, pooling means, gradients):
  NumPy sums pairwise and the compiled kernels in vector lanes, so elementwise relative
  error is unbounded where terms cancel, while the error against the sum's scale stays at a
  few ulps times the number of terms (at most 64 here, i.e. < 4e-6).

GRAD_NORM for gradients: a gradient is a sum of cotangent products, so NORM, with the
scale taken over the case's whole gradient (every input and weight): |c - e| <= 1e-5 (|e| +
max|g|). An entry that is analytically zero (MultiHeadAttention's key-bias gradient: the
softmax is shift-invariant) holds only rounding noise of the terms that cancel there, which
only the gradient's overall scale can judge. The gradient case of an op differentiates
sum(op(inputs) * ct) (ct a fixed pseudo-random array) with respect to every float input,
by `gk.value_and_grad` inside `gk.jit` (IR autodiff) against the same function run eagerly
(tape autodiff); a layer's, by a GradientTape over its inputs and trainable weights.

Speed: cases are batched by `group` into one function returning a dict of every case's
outputs, so the sweep compiles a few graphs instead of hundreds; rows are then matched back
to their case by name. If a batch cannot be traced or compiled, each of its cases is re-run
alone, so the failure names the op that causes it.
"""
import functools
import math
import types

import numpy as np

import graphkit as gk
import graphkit.ops  # noqa: F401  (registers every primitive)
from graphkit import layers, ops
from graphkit.codegen.mathlib import ULP_BOUNDS
from graphkit.debugging import compare, ulp_distance
from graphkit.ops import creation, layout, nn, random as random_ops
from graphkit.ops.primitive import bind

RTOL = 1e-5
MAX_EAGER_ULP = 4


# -- bounds ---------------------------------------------------------------------------------

class Bound:
    def __init__(self, kind, value, reason):
        self.kind, self.value, self.reason = kind, value, reason

    def __repr__(self):
        return f"{self.kind}({self.value}): {self.reason}"


EXACT = Bound("exact", 0, "integer, boolean, selection or random result: bit-identical")
REL = Bound("rel", RTOL, "one or a few correctly rounded IEEE ops per element")
NORM = Bound("norm", RTOL, "accumulation: summation order differs, error vs max|output|")
GRAD_NORM = Bound("norm", RTOL, "gradient: sums of products, error vs the case's max|grad|")


def ulp_bound(op):
    return Bound("ulp", op, f"mathlib {op}: <= {ULP_BOUNDS['float32'][op]} ulp vs float64 "
                            f"(ULP_BOUNDS) + eager NumPy's error measured on these inputs")


_F64_TRUTH = {
    "exp": np.exp, "log": np.log, "log1p": np.log1p, "tanh": np.tanh, "sin": np.sin,
    "cos": np.cos, "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)),
    "erf": np.vectorize(math.erf, otypes=[np.float64]),
}


def eager_ulp_error(op, x):
    """How far eager float32 `op(x)` is from the float64 truth rounded to float32."""
    truth = _F64_TRUTH[op](np.asarray(x, np.float64)).astype(np.float32)
    eager = np.asarray(getattr(ops, op)(x))
    return int(ulp_distance(eager, truth).max())


def check(bound, reference, compiled, inputs=(), scale=None):
    """None if `compiled` meets `bound` against `reference`, else a message saying how far
    off it is. `scale` replaces max|reference| as NORM's scale."""
    e, c = np.asarray(reference), np.asarray(compiled)
    if e.shape != c.shape or e.dtype != c.dtype:
        return f"expected {e.dtype}{list(e.shape)}, compiled gave {c.dtype}{list(c.shape)}"
    if bound.kind == "exact" or not np.issubdtype(e.dtype, np.floating):
        differ = _bits_differ(e, c)
        return None if not differ.any() else (
            f"not bit-identical: {int(differ.sum())} of {e.size} elements differ, first at "
            f"{_first_diff(e, c, differ)}")
    if bound.kind == "ulp":
        eager_err = eager_ulp_error(bound.value, inputs[0])
        if eager_err > MAX_EAGER_ULP:
            return f"eager NumPy {bound.value} is {eager_err} ulp off float64 (> {MAX_EAGER_ULP})"
        allowed = ULP_BOUNDS["float32"][bound.value] + eager_err
        got = int(ulp_distance(e, c).max()) if e.size else 0
        return None if got <= allowed else f"{got} ulp apart > {allowed} allowed"
    e64, c64 = e.astype(np.float64), c.astype(np.float64)
    finite = np.isfinite(e64)
    if not np.array_equal(np.isnan(e64), np.isnan(c64)) or \
            not np.array_equal(e64[~finite & ~np.isnan(e64)], c64[~finite & ~np.isnan(e64)]):
        return "NaN/inf pattern differs"
    if scale is None:
        scale = np.max(np.abs(e64[finite]), initial=0.0)
    floor = bound.value * scale if bound.kind == "norm" else 0.0
    err = np.abs(c64[finite] - e64[finite])
    allowed = bound.value * np.abs(e64[finite]) + floor
    if np.all(err <= allowed):
        return None
    rel = err / np.maximum(np.abs(e64[finite]), np.finfo(np.float64).tiny)
    return (f"{np.sum(err > allowed)} of {e.size} elements beyond the {bound.kind} bound "
            f"{bound.value:g}: max abs {err.max():.3g}, max rel {rel.max():.3g}, max ulp "
            f"{int(ulp_distance(e, c).max())}")


def assert_outcome(outcome, bound, what, inputs=(), scale=None):
    """Fail, naming the value, its dtype and shape, unless every compiled value of a
    `gk.debugging.compare` outcome meets `bound` against its eager twin."""
    assert outcome.error is None, f"{what}: {outcome.error}"
    assert outcome.pairs, f"{what}: compare returned no values"
    for name, eager, compiled in outcome.pairs:
        problem = check(bound, eager, compiled, inputs, scale)
        assert problem is None, (f"{what} {name} {eager.dtype}{list(eager.shape)}: {problem} "
                                 f"(bound {bound!r})")


def gradient_scale(pairs):
    """GRAD_NORM's scale: the largest finite |eager gradient| among a case's gradients."""
    return max((float(np.max(np.abs(e[np.isfinite(e)]), initial=0.0)) for _, e, _ in pairs
                if np.issubdtype(e.dtype, np.floating)), default=0.0)


def _bits_differ(e, c):
    """Elementwise: not the same value (NaN equal to NaN; -0.0 differs from 0.0)."""
    if not np.issubdtype(e.dtype, np.floating):
        return np.asarray(e != c)
    both_nan = np.isnan(e) & np.isnan(c)
    return np.asarray(~both_nan & ((e != c) | (np.signbit(e) != np.signbit(c))))


def _first_diff(e, c, differ):
    idx = tuple(int(i) for i in np.argwhere(differ)[0]) if e.ndim else ()
    return f"{idx}: eager {e[idx]!r}, compiled {c[idx]!r}"


# -- inputs ---------------------------------------------------------------------------------

_RNG = np.random.default_rng(20261122)


def rand(*shape, lo=-1.0, hi=1.0):
    return _RNG.uniform(lo, hi, shape).astype(np.float32)


def away_from(values, *shape, gap=0.1, lo=-1.0, hi=1.0):
    """Random values at least `gap` from each of `values` (kinks of relu, abs, clip...)."""
    x = _RNG.uniform(lo, hi, shape)
    for v in values:
        near = np.abs(x - v) < gap
        x[near] = v + np.where(x[near] >= v, gap, -gap) * 1.5
    return x.astype(np.float32)


def distinct(*shape):
    """No ties: max/min/argmax/sort/max_pool have one answer and one gradient."""
    n = int(np.prod(shape))
    return (_RNG.permutation(n) / n * 2 - 1).reshape(shape).astype(np.float32)


def ints(*shape, lo=0, hi=3, dtype=np.int32):
    return _RNG.integers(lo, hi, shape).astype(dtype)


def bools(*shape):
    return _RNG.uniform(size=shape) < 0.5


# Sorted (NaN last, with ties) and values with ties, NaN and both ends, for the searches.
SORTED_WITH_NAN = np.array([-2.0, 0.0, 0.0, 1.5, 3.0, np.inf, np.nan], np.float32)
SEARCH_VALUES = np.array([[-3.0, -2.0, 0.0, 0.5, 1.5], [3.0, np.inf, np.nan, 9.0, -np.inf]],
                         np.float32)

# Special values for the elementwise predicates and rounding.
SPECIAL = np.array([0.0, -0.0, 1.5, -2.5, 0.5, np.inf, -np.inf, np.nan, 3.7, -1e-3],
                   np.float32)


# -- op cases -------------------------------------------------------------------------------

class OpCase:
    """`fn(*inputs)` compared eagerly and compiled; `grad` also compares its gradient with
    respect to the float inputs."""

    def __init__(self, fn, *inputs, bound=REL, grad=True, group="elementwise"):
        self.fn, self.inputs, self.bound, self.group = fn, inputs, bound, group
        self.grad = grad and any(_is_float(a) for a in inputs)


def _is_float(a):
    return np.issubdtype(np.asarray(a).dtype, np.floating)


# Case builders, one per batch group (a group compiles as one function), with the group's
# usual bound: E elementwise, R reductions, L layout, G gathers, M linear algebra, N nn
# composites, C conv and pooling, K creation, CF control flow, RND random; `nograd` for
# forward-only ops.
def E(fn, *inputs, **kw):
    """An elementwise case."""
    return OpCase(fn, *inputs, **kw)


def nograd(fn, *inputs, **kw):
    """A non-differentiable (piecewise-constant, integer or boolean) op: forward only."""
    kw.setdefault("bound", EXACT)
    return OpCase(fn, *inputs, grad=False, **kw)


def R(fn, *inputs, **kw):
    kw.setdefault("bound", NORM)
    return OpCase(fn, *inputs, group="reduction", **kw)


def L(fn, *inputs, **kw):
    kw.setdefault("bound", EXACT)
    return OpCase(fn, *inputs, group="layout", **kw)


def G(fn, *inputs, **kw):
    kw.setdefault("bound", EXACT)
    return OpCase(fn, *inputs, group="gather", **kw)


def M(fn, *inputs, **kw):
    kw.setdefault("bound", NORM)
    return OpCase(fn, *inputs, group="linalg", **kw)


def N(fn, *inputs, **kw):
    kw.setdefault("bound", NORM)
    return OpCase(fn, *inputs, group="nn", **kw)


def C(fn, *inputs, **kw):
    kw.setdefault("bound", NORM)
    return OpCase(fn, *inputs, group="conv", **kw)


def K(fn, *inputs, **kw):
    kw.setdefault("bound", EXACT)
    kw.setdefault("grad", False)
    return OpCase(fn, *inputs, group="creation", **kw)


def CF(fn, *inputs, **kw):
    """A control-flow case (gk.ops.control_flow): REL unless the body accumulates."""
    return OpCase(fn, *inputs, group="control_flow", **kw)


def RND(fn, *inputs, **kw):
    return OpCase(fn, *inputs, bound=EXACT, grad=False, group="random", **kw)


IDX = np.array([[2, 0], [1, 2], [0, 0]], np.int32)
ALONG = np.array([[1, 0, 2, 2], [0, 0, 1, 2]], np.int32)
CONV_ATTRS = dict(strides=(2, 1), padding=((1, 1), (0, 1)), dilation=(1, 1), groups=2)
CONV_ATTRS_DIL = dict(strides=(1,), padding=((2, 1),), dilation=(2,), groups=1)
POOL_ATTRS = dict(window=(2, 3), strides=(2, 2), padding=((0, 1), (1, 1)))
KEY = np.array([7, 2026], np.uint32)


# Key position 4 is masked for every query: with is_causal, the first query keeps one key.
ATTENTION_MASK = np.arange(5)[None, None, None, :] < 4
# A NaN on each row (and column), for the NaN-ignoring reductions.
NAN_ROWS = np.where(np.eye(3, 4) > 0, np.float32(np.nan), rand(3, 4))


def _pos(*shape):
    return rand(*shape, lo=0.3, hi=2.5)


# name (a primitive's or a public gk.ops function's) -> cases. Elementwise ops use (3, 5)
# inputs; transcendentals use wide ranges so their range reductions are exercised.
OP_CASES = {
    # -- elementwise: arithmetic ---------------------------------------------------------
    "add": [E(ops.add, rand(3, 5), rand(5))],
    "subtract": [E(ops.subtract, rand(3, 5), rand(3, 1))],
    "multiply": [E(ops.multiply, rand(3, 5), rand(3, 5))],
    "divide": [E(ops.divide, rand(3, 5), rand(5, lo=0.5, hi=2.0))],
    "true_divide": [E(ops.true_divide, rand(3, 5), rand(3, 5, lo=0.5, hi=2.0))],
    "divide_no_nan": [E(ops.divide_no_nan, rand(3, 5),
                        rand(3, 5, lo=0.5, hi=2.0) * bools(3, 5))],
    "power": [E(ops.power, _pos(3, 5), rand(3, 5, lo=-2, hi=2),
                bound=Bound("rel", 2e-5, "pow = exp(y log x) with |y log x| <= 2: "
                                          "exp's and log's ulps, amplified by |y log x|")),
              E(lambda x: ops.power(x, 3.0), rand(3, 5))],
    "maximum": [E(ops.maximum, rand(3, 5), rand(5), bound=EXACT)],
    "minimum": [E(ops.minimum, rand(3, 5), rand(3, 1), bound=EXACT)],
    "floor_divide": [nograd(ops.floor_divide, rand(3, 5, lo=-5, hi=5), _pos(3, 5)),
                     nograd(ops.floor_divide, ints(3, 5, lo=-9, hi=9), ints(5, lo=1, hi=4))],
    "mod": [E(ops.mod, rand(3, 5, lo=0.1, hi=5.0), np.full(5, 1.7, np.float32)),
            nograd(ops.mod, ints(3, 5, lo=-9, hi=9), ints(5, lo=1, hi=4))],
    # fmod = +-(|x1| mod |x2|): mod of magnitudes is the exact remainder in both modes.
    "fmod": [E(ops.fmod, away_from([0.0], 3, 5, lo=-5.0, hi=5.0), np.float32([1.7, -1.3, 0.6,
                                                                            -2.2, 3.1])),
             nograd(ops.fmod, ints(3, 5, lo=-9, hi=9), ints(5, lo=1, hi=4))],
    "ldexp": [E(lambda x: ops.ldexp(x, np.int32([[-3], [0], [5]])), rand(3, 5),
                bound=Bound("rel", 1e-6, "x * 2**e: pow of 2 is exact, one rounding-free "
                                         "multiply; 1e-6 leaves room for pow's last ulp"))],
    "allclose": [nograd(lambda a, b: ops.allclose(a, b, atol=0.05), rand(3, 5),
                        rand(3, 5, lo=-0.5, hi=0.5) * 0.1)],
    "isreal": [nograd(ops.isreal, SPECIAL)],
    "saturate_cast": [nograd(lambda x: ops.saturate_cast(x * 200.0, "uint8"), rand(3, 5)),
                      nograd(lambda x: ops.saturate_cast(x, "int8"), ints(3, 5, lo=-300,
                                                                       hi=300))],
    "negative": [E(ops.negative, rand(3, 5), bound=EXACT)],
    "abs": [E(ops.abs, away_from([0.0], 3, 5), bound=EXACT)],
    "absolute": [E(ops.absolute, away_from([0.0], 3, 5), bound=EXACT)],
    "square": [E(ops.square, rand(3, 5))],
    "sqrt": [E(ops.sqrt, _pos(3, 5))],
    "rsqrt": [E(ops.rsqrt, _pos(3, 5))],
    "reciprocal": [E(ops.reciprocal, _pos(3, 5))],
    "sign": [nograd(ops.sign, SPECIAL)],
    "floor": [nograd(ops.floor, SPECIAL)],
    "ceil": [nograd(ops.ceil, SPECIAL)],
    "round": [nograd(ops.round, SPECIAL), nograd(lambda x: ops.round(x, 1), rand(3, 5) * 9,
                                                 bound=REL)],
    "clip": [E(lambda x: ops.clip(x, -0.5, 0.5), away_from([-0.5, 0.5], 3, 5), bound=EXACT)],
    "nan_to_num": [nograd(ops.nan_to_num, SPECIAL)],
    # -- elementwise: transcendental (mathlib) ---------------------------------------------
    "exp": [E(ops.exp, rand(3, 5, lo=-80, hi=80), bound=ulp_bound("exp"))],
    "expm1": [E(ops.expm1, rand(3, 5, lo=-3, hi=3),
                bound=Bound("rel", 2e-5, "expm1 has no mathlib routine: exp(x) - 1 with a "
                                         "correction; a few ulps of exp near x = 0"))],
    "log": [E(ops.log, rand(3, 5, lo=1e-3, hi=1e3), bound=ulp_bound("log"))],
    "log1p": [E(ops.log1p, rand(3, 5, lo=-0.9, hi=50), bound=ulp_bound("log1p"))],
    "log2": [E(ops.log2, _pos(3, 5), bound=Bound("rel", 2e-5, "log(x) / log(2): log's ulps "
                                                              "plus one rounding"))],
    "log10": [E(ops.log10, _pos(3, 5), bound=Bound("rel", 2e-5, "log(x) / log(10): log's "
                                                                "ulps plus one rounding"))],
    "tanh": [E(ops.tanh, rand(3, 5, lo=-6, hi=6), bound=ulp_bound("tanh"))],
    "sin": [E(ops.sin, rand(3, 5, lo=-100, hi=100), bound=ulp_bound("sin"))],
    "cos": [E(ops.cos, rand(3, 5, lo=-100, hi=100), bound=ulp_bound("cos"))],
    "tan": [E(ops.tan, rand(3, 5, lo=-1.2, hi=1.2),
              bound=Bound("rel", 2e-5, "sin / cos: two mathlib results and a division"))],
    "sinh": [E(ops.sinh, away_from([0.0], 3, 5, gap=0.3, lo=-4, hi=4),
               bound=Bound("rel", 2e-5, "(exp(x) - exp(-x)) / 2 away from 0 (cancellation)"))],
    "cosh": [E(ops.cosh, rand(3, 5, lo=-4, hi=4),
               bound=Bound("rel", 2e-5, "(exp(x) + exp(-x)) / 2: two exp results"))],
    "sigmoid": [E(ops.sigmoid, rand(3, 5, lo=-20, hi=20), bound=ulp_bound("sigmoid"))],
    "erf": [E(ops.erf, rand(3, 5, lo=-4, hi=4), bound=ulp_bound("erf"))],
    "logaddexp": [E(ops.logaddexp, rand(3, 5, lo=-5, hi=5), rand(3, 5, lo=-5, hi=5),
                    bound=Bound("norm", RTOL, "max + log1p(exp(-|a-b|)): mathlib ulps on "
                                              "the correction term"))],
    "exp2": [E(ops.exp2, rand(3, 5, lo=-20, hi=20),
               bound=Bound("rel", 2e-5, "2 ** x as pow: float64 exp(y log 2) rounded once, "
                                        "vs NumPy's powf"))],
    "logaddexp2": [E(ops.logaddexp2, rand(3, 5, lo=-5, hi=5), rand(3, 5, lo=-5, hi=5),
                     bound=Bound("norm", RTOL, "hi + log1p(2 ** -|a-b|) / ln 2: pow and "
                                               "log1p ulps on the correction term"))],
    "hypot": [E(ops.hypot, rand(3, 5, lo=-3, hi=3), rand(3, 5, lo=-3, hi=3))],
    "cbrt": [E(ops.cbrt, away_from([0.0], 3, 5, lo=-30, hi=30),
               bound=Bound("rel", 2e-5, "float64 pow and a Newton step, rounded to float32"))],
    "sinc": [E(ops.sinc, np.append(rand(14, lo=-3, hi=3), np.float32(0.0)),
               bound=Bound("norm", RTOL, "sin(pi x) / (pi x): mathlib sin of a rounded "
                                         "product; near its roots, error vs max|output|"))],
    "deg2rad": [E(ops.deg2rad, rand(3, 5, lo=-360, hi=360))],
    "rad2deg": [E(ops.rad2deg, rand(3, 5, lo=-7, hi=7))],
    "fabs": [E(ops.fabs, away_from([0.0], 3, 5), bound=EXACT)],
    "fmax": [E(ops.fmax, rand(3, 5), rand(5), bound=EXACT),
             nograd(ops.fmax, SPECIAL[:, None], SPECIAL[None, :])],
    "fmin": [E(ops.fmin, rand(3, 5), rand(3, 1), bound=EXACT),
             nograd(ops.fmin, SPECIAL[:, None], SPECIAL[None, :])],
    "heaviside": [E(lambda b: ops.heaviside(SPECIAL, b), rand(10), bound=EXACT)],
    "trunc": [nograd(ops.trunc, SPECIAL)],
    "signbit": [nograd(ops.signbit, SPECIAL)],
    "isposinf": [nograd(ops.isposinf, SPECIAL)],
    "isneginf": [nograd(ops.isneginf, SPECIAL)],
    # -- elementwise: predicates, comparisons, logic, select -------------------------------
    "equal": [nograd(ops.equal, ints(3, 5), ints(5))],
    "not_equal": [nograd(ops.not_equal, ints(3, 5), ints(5))],
    "less": [nograd(ops.less, rand(3, 5), rand(5))],
    "less_equal": [nograd(ops.less_equal, ints(3, 5).astype(np.float32), np.float32(1.0))],
    "greater": [nograd(ops.greater, rand(3, 5), rand(3, 1))],
    "greater_equal": [nograd(ops.greater_equal, ints(3, 5), ints(3, 5))],
    "isclose": [nograd(ops.isclose, rand(3, 5), rand(3, 5) * 1e-3 + 0.5)],
    "logical_and": [nograd(ops.logical_and, bools(3, 5), bools(5))],
    "logical_or": [nograd(ops.logical_or, bools(3, 5), bools(3, 5))],
    "logical_xor": [nograd(ops.logical_xor, bools(3, 5), bools(3, 1))],
    "logical_not": [nograd(ops.logical_not, bools(3, 5))],
    # -- elementwise: bitwise (integer results: EXACT). Shift amounts include negative and
    # >= bit-width ones, which NumPy and codegen both answer with 0 or the sign fill.
    "bitwise_and": [nograd(ops.bitwise_and, ints(3, 5, lo=-99, hi=99), ints(5, lo=-99, hi=99)),
                    nograd(ops.bitwise_and, bools(3, 5), bools(3, 5))],
    "bitwise_or": [nograd(ops.bitwise_or, ints(3, 5, lo=-99, hi=99, dtype=np.int8),
                          ints(3, 1, lo=-99, hi=99, dtype=np.int8))],
    "bitwise_xor": [nograd(ops.bitwise_xor, ints(3, 5, lo=0, hi=255, dtype=np.uint8),
                           ints(3, 5, lo=0, hi=255, dtype=np.uint8))],
    "bitwise_not": [nograd(ops.bitwise_not, ints(3, 5, lo=-99, hi=99, dtype=np.int64)),
                    nograd(ops.bitwise_not, bools(3, 5))],
    "bitwise_invert": [nograd(ops.bitwise_invert, ints(3, 5, lo=0, hi=255, dtype=np.uint8))],
    "left_shift": [nograd(ops.left_shift, ints(3, 5, lo=-99, hi=99), ints(3, 5, lo=-3, hi=36)),
                   nograd(ops.left_shift, ints(3, 5, lo=-99, hi=99, dtype=np.int8),
                          ints(5, lo=-2, hi=11, dtype=np.int8))],
    "right_shift": [nograd(ops.right_shift, ints(3, 5, lo=-99, hi=99),
                           ints(3, 5, lo=-3, hi=36)),
                    nograd(ops.right_shift, ints(3, 5, lo=0, hi=255, dtype=np.uint8),
                           ints(5, lo=0, hi=11, dtype=np.uint8))],
    "bitwise_left_shift": [nograd(ops.bitwise_left_shift,
                                  ints(3, 5, lo=-9, hi=9, dtype=np.int64),
                                  ints(3, 5, lo=0, hi=66, dtype=np.int64))],
    "bitwise_right_shift": [nograd(ops.bitwise_right_shift,
                                   ints(3, 5, lo=-9, hi=9, dtype=np.int64),
                                   ints(3, 5, lo=0, hi=66, dtype=np.int64))],
    # -- searching: counts of comparisons (int32 / bool results: EXACT) --------------------
    "searchsorted": [nograd(lambda a, v: ops.searchsorted(a, v), SORTED_WITH_NAN,
                            SEARCH_VALUES, group="reduction"),
                     nograd(lambda a, v: ops.searchsorted(a, v, side="right"),
                            SORTED_WITH_NAN, SEARCH_VALUES, group="reduction")],
    "digitize": [nograd(lambda x, b: ops.digitize(x, b), SEARCH_VALUES, SORTED_WITH_NAN[:5],
                        group="reduction"),
                 nograd(lambda x, b: ops.digitize(x, ops.flip(b, axis=0), right=True),
                        SEARCH_VALUES, SORTED_WITH_NAN[:5], group="reduction")],
    "isin": [nograd(ops.isin, SEARCH_VALUES, SORTED_WITH_NAN, group="reduction"),
             nograd(lambda x, t: ops.isin(x, t, invert=True), ints(3, 5, lo=-4, hi=4),
                    ints(2, 3, lo=-4, hi=4), group="reduction")],
    "isnan": [nograd(ops.isnan, SPECIAL)],
    "isinf": [nograd(ops.isinf, SPECIAL)],
    "isfinite": [nograd(ops.isfinite, SPECIAL)],
    "where": [E(lambda c, a, b: ops.where(c, a, b), bools(3, 5), rand(3, 5), rand(5),
                bound=EXACT)],
    "select": [E(lambda a, b, x: ops.select([a, b], [x, -x], 0.5), bools(3, 5),
                 bools(3, 5), rand(3, 5), bound=EXACT)],
    "cast": [E(lambda x: ops.cast(x, "float64"), rand(3, 5)),
             nograd(lambda x: ops.cast(x, "int32"), rand(3, 5, lo=-9, hi=9)),
             # saturating in both modes: NaN -> 0, out of range -> the type's limits
             nograd(lambda x: {t: ops.cast(x, t) for t in ("int32", "uint8", "int64")},
                    np.array([np.nan, np.inf, -np.inf, 3e9, -3e9, 1e20, 300.0, -2.7, 2.7],
                             np.float32)),
             nograd(lambda x: ops.cast(x, "float32"), ints(3, 5, lo=-9, hi=9))],
    "stop_gradient": [E(lambda x: ops.stop_gradient(x) * x, rand(3, 5))],
    # -- activations (composites) ----------------------------------------------------------
    "relu": [E(ops.relu, away_from([0.0], 3, 5), bound=EXACT)],
    "relu6": [E(ops.relu6, away_from([0.0, 6.0], 3, 5, lo=-2, hi=8), bound=EXACT)],
    "leaky_relu": [E(ops.leaky_relu, away_from([0.0], 3, 5))],
    "elu": [E(ops.elu, away_from([0.0], 3, 5, lo=-3, hi=3),
              bound=Bound("rel", 2e-5, "expm1 for x < 0"))],
    "selu": [E(ops.selu, away_from([0.0], 3, 5, lo=-3, hi=3),
               bound=Bound("rel", 2e-5, "scale * alpha * expm1 for x < 0"))],
    "gelu": [E(lambda x: ops.gelu(x, approximate=True), rand(3, 5, lo=-3, hi=3),
               bound=Bound("norm", RTOL, "x (1 + tanh(...)) / 2: 1 + tanh cancels near "
                                         "x << 0, so error vs max|output|")),
             E(lambda x: ops.gelu(x, approximate=False), rand(3, 5, lo=-3, hi=3),
               bound=Bound("norm", RTOL, "x (1 + erf(x / sqrt 2)) / 2: cancels for x << 0"))],
    "silu": [E(ops.silu, rand(3, 5, lo=-4, hi=4), bound=Bound("rel", 2e-5, "x sigmoid(x)"))],
    "swish": [E(ops.swish, rand(3, 5, lo=-4, hi=4), bound=Bound("rel", 2e-5, "x sigmoid(x)"))],
    "softplus": [E(ops.softplus, rand(3, 5, lo=-20, hi=20),
                   bound=Bound("rel", 2e-5, "max(x, 0) + log1p(exp(-|x|)): mathlib ulps"))],
    "softsign": [E(ops.softsign, rand(3, 5, lo=-4, hi=4))],
    "log_sigmoid": [E(ops.log_sigmoid, rand(3, 5, lo=-10, hi=10),
                      bound=Bound("rel", 2e-5, "-softplus(-x): mathlib ulps"))],
    "hard_sigmoid": [E(ops.hard_sigmoid, away_from([-3.0, 3.0], 3, 5, lo=-5, hi=5))],
    "hard_silu": [E(ops.hard_silu, away_from([-3.0, 3.0], 3, 5, lo=-5, hi=5))],
    "hard_swish": [E(ops.hard_swish, away_from([-3.0, 3.0], 3, 5, lo=-5, hi=5))],
    "celu": [E(lambda x: ops.celu(x, alpha=1.5), away_from([0.0], 3, 5, lo=-3, hi=3),
               bound=Bound("rel", 2e-5, "alpha expm1(x / alpha) for x < 0"))],
    "glu": [E(ops.glu, rand(3, 6, lo=-4, hi=4), bound=Bound("rel", 2e-5, "a sigmoid(b)"))],
    "hard_tanh": [E(ops.hard_tanh, away_from([-1.0, 1.0], 3, 5, lo=-2, hi=2), bound=EXACT)],
    "hard_shrink": [E(ops.hard_shrink, away_from([-0.5, 0.5], 3, 5, lo=-2, hi=2),
                      bound=EXACT)],
    "soft_shrink": [E(ops.soft_shrink, away_from([-0.5, 0.5], 3, 5, lo=-2, hi=2))],
    "tanh_shrink": [E(ops.tanh_shrink, rand(3, 5, lo=-3, hi=3),
                      bound=Bound("norm", RTOL, "x - tanh(x) cancels near 0: tanh's ulps "
                                                "vs max|output|"))],
    "squareplus": [E(ops.squareplus, rand(3, 5, lo=-3, hi=3),
                     bound=Bound("norm", RTOL, "x + sqrt(x^2 + b) cancels for x << 0"))],
    "sparse_plus": [E(ops.sparse_plus, away_from([-1.0, 1.0], 3, 5, lo=-2, hi=2))],
    "sparse_sigmoid": [E(ops.sparse_sigmoid, away_from([-1.0, 1.0], 3, 5, lo=-2, hi=2))],
    "threshold": [E(lambda x: ops.threshold(x, 0.2, -1.0), away_from([0.2], 3, 5),
                    bound=EXACT)],
    "sparsemax": [OpCase(lambda x: ops.sparsemax(x, axis=-1), distinct(3, 5), bound=NORM,
                         group="opaque")],
    "softmax": [N(lambda x: ops.softmax(x, axis=-1), rand(3, 5, lo=-5, hi=5)),
                N(lambda x: ops.softmax(x, axis=0), rand(3, 5, lo=-5, hi=5))],
    "log_softmax": [N(ops.log_softmax, rand(3, 5, lo=-5, hi=5))],
    "normalize": [N(ops.normalize, rand(3, 5))],
    "dropout": [RND(lambda x, k: ops.dropout(x, 0.5, seed=k), rand(4, 6), KEY)],
    # -- reductions -------------------------------------------------------------------------
    "sum": [R(lambda x: ops.sum(x, axis=1), rand(3, 4, 5)),
            R(lambda x: ops.sum(x, axis=(0, 2), keepdims=True), rand(3, 4, 5)),
            R(ops.sum, rand(7, 9))],
    "max": [R(lambda x: ops.max(x, axis=-1), distinct(3, 4), bound=EXACT),
            R(ops.max, distinct(3, 4), bound=EXACT)],
    "min": [R(lambda x: ops.min(x, axis=0, keepdims=True), distinct(3, 4), bound=EXACT)],
    "amax": [R(lambda x: ops.amax(x, axis=1), distinct(3, 4), bound=EXACT)],
    "amin": [R(lambda x: ops.amin(x, axis=0), distinct(3, 4), bound=EXACT)],
    "prod": [R(lambda x: ops.prod(x, axis=1), rand(3, 4, lo=0.5, hi=1.5))],
    "mean": [R(lambda x: ops.mean(x, axis=(0, 2)), rand(2, 3, 4))],
    "average": [R(lambda x, w: ops.average(x, axis=1, weights=w), rand(3, 4),
                  rand(4, lo=0.5, hi=2))],
    "var": [R(lambda x: ops.var(x, axis=1, keepdims=True), rand(3, 5))],
    "std": [R(lambda x: ops.std(x, axis=0), rand(4, 3))],
    "moments": [R(lambda x: ops.moments(x, axes=[-1]), rand(3, 5))],
    "logsumexp": [R(lambda x: ops.logsumexp(x, axis=1), rand(3, 5, lo=-5, hi=5))],
    "norm": [R(lambda x: ops.norm(x, axis=-1), rand(3, 4)),
             R(lambda x: ops.norm(x, ord="fro", axis=(0, 1)), rand(3, 4))],
    "cumsum": [R(lambda x: ops.cumsum(x, axis=0), rand(4, 3))],
    "cumprod": [R(lambda x: ops.cumprod(x, axis=1), rand(3, 6, lo=0.5, hi=1.5)),
                nograd(lambda x: ops.cumprod(x), ints(2, 3, lo=-3, hi=4), group="reduction")],
    "ptp": [R(lambda x: ops.ptp(x, axis=1), distinct(3, 4), bound=EXACT)],
    "trapezoid": [R(lambda y, x: ops.trapezoid(y, x=x, axis=0), rand(4, 3),
                    np.float32([0.0, 0.5, 1.7, 2.0]))],
    "nansum": [R(lambda x: ops.nansum(x, axis=1), NAN_ROWS)],
    "nanmean": [R(lambda x: ops.nanmean(x, axis=1), NAN_ROWS)],
    "nanmax": [R(lambda x: ops.nanmax(x, axis=1), NAN_ROWS, bound=EXACT)],
    "nanmin": [R(lambda x: ops.nanmin(x, axis=0), NAN_ROWS, bound=EXACT)],
    "nanvar": [R(lambda x: ops.nanvar(x, axis=1), NAN_ROWS)],
    "nanstd": [R(lambda x: ops.nanstd(x, axis=0, keepdims=True), NAN_ROWS)],
    "nanprod": [R(lambda x: ops.nanprod(x, axis=1), NAN_ROWS)],
    "nancumsum": [R(lambda x: ops.nancumsum(x, axis=1), NAN_ROWS)],
    "nancumprod": [R(lambda x: ops.nancumprod(x, axis=0), NAN_ROWS)],
    "nanargmax": [nograd(lambda x: ops.nanargmax(x, axis=1), NAN_ROWS, group="reduction")],
    "nanargmin": [nograd(lambda x: ops.nanargmin(x), NAN_ROWS, group="reduction")],
    "argmax": [nograd(lambda x: ops.argmax(x, axis=1), distinct(3, 5), group="reduction")],
    "argmin": [nograd(lambda x: ops.argmin(x, axis=0), distinct(3, 5), group="reduction")],
    "all": [nograd(lambda x: ops.all(x, axis=1), bools(3, 5), group="reduction")],
    "any": [nograd(lambda x: ops.any(x, axis=0), bools(3, 5), group="reduction")],
    "count_nonzero": [nograd(lambda x: ops.count_nonzero(x, axis=1), ints(3, 5),
                             group="reduction")],
    "trace": [R(ops.trace, rand(4, 4))],
    # -- layout -----------------------------------------------------------------------------
    "reshape": [L(lambda x: ops.reshape(x, (3, -1)), rand(2, 3, 2))],
    "ravel": [L(ops.ravel, rand(2, 3))],
    "transpose": [L(lambda x: ops.transpose(x, (2, 0, 1)), rand(2, 3, 4))],
    "swapaxes": [L(lambda x: ops.swapaxes(x, 0, 2), rand(2, 3, 4))],
    "moveaxis": [L(lambda x: ops.moveaxis(x, 0, -1), rand(2, 3, 4))],
    "expand_dims": [L(lambda x: ops.expand_dims(x, 1), rand(2, 3))],
    "squeeze": [L(lambda x: ops.squeeze(x, 1), rand(2, 1, 3))],
    "broadcast_to": [L(lambda x: ops.broadcast_to(x, (2, 3, 4)), rand(3, 1))],
    "slice": [L(lambda x: x[1:, ::-2], rand(3, 5)),
              L(lambda x: ops.slice(x, (0, 1), (2, 2)), rand(3, 4))],
    "getitem": [L(lambda x: x[None, ::-1, 1, [0, 2, 2]], rand(3, 4, 3))],
    "slice_update": [L(lambda x, u: ops.slice_update(x, (1, 1), u), rand(3, 4), rand(2, 2))],
    "pad": [L(lambda x: ops.pad(x, ((1, 2), (0, 1))), rand(2, 3)),
            L(lambda x: layout._pad(x, ((1, 0, 2), (0, 1, 1)), 0.5), rand(3, 2)),
            L(lambda x: ops.pad(x, ((2, 1), (1, 2)), mode="reflect"), rand(3, 4))],
    "concatenate": [L(lambda a, b: ops.concatenate([a, b, a], axis=1), rand(2, 3),
                      rand(2, 1))],
    "append": [L(lambda a, b: ops.append(a, b, axis=0), rand(2, 3), rand(1, 3))],
    "stack": [L(lambda a, b: ops.stack([a, b], axis=1), rand(2, 3), rand(2, 3))],
    "hstack": [L(lambda a, b: ops.hstack([a, b]), rand(2, 3), rand(2, 2))],
    "vstack": [L(lambda a, b: ops.vstack([a, b]), rand(2, 3), rand(1, 3))],
    "split": [L(lambda x: ops.split(x, [1, 3], axis=1), rand(2, 5))],
    "unstack": [L(lambda x: ops.unstack(x, axis=1), rand(2, 3))],
    "tile": [L(lambda x: ops.tile(x, (2, 1, 3)), rand(2, 3))],
    "repeat": [L(lambda x: ops.repeat(x, 2, axis=1), rand(2, 3))],
    "flip": [L(lambda x: ops.flip(x, axis=1), rand(2, 3))],
    "roll": [L(lambda x: ops.roll(x, 2, axis=1), rand(2, 5))],
    "diag": [L(ops.diag, rand(4)), L(ops.diag, rand(3, 3))],
    "diagonal": [L(lambda x: ops.diagonal(x, offset=1), rand(3, 4))],
    "tril": [L(ops.tril, rand(3, 4))],
    "triu": [L(lambda x: ops.triu(x, k=1), rand(3, 4))],
    "diff": [L(lambda x: ops.diff(x, n=2, axis=0), rand(4, 3), bound=REL)],
    "fliplr": [L(ops.fliplr, rand(2, 3))],
    "flipud": [L(ops.flipud, rand(2, 3))],
    "rot90": [L(lambda x: ops.rot90(x, k=1, axes=(2, 0)), rand(2, 3, 4)),
              L(lambda x: ops.rot90(x, k=3), rand(2, 3))],
    "dstack": [L(lambda a, b: ops.dstack([a, b]), rand(2, 3), rand(2, 3))],
    "hsplit": [L(lambda x: ops.hsplit(x, 2), rand(2, 4))],
    "vsplit": [L(lambda x: ops.vsplit(x, [1]), rand(3, 2))],
    "dsplit": [L(lambda x: ops.dsplit(x, 2), rand(2, 1, 4))],
    "array_split": [L(lambda x: ops.array_split(x, 3, axis=1), rand(2, 7))],
    "meshgrid": [L(lambda a, b: ops.meshgrid(a, b), rand(3), rand(4))],
    "copy": [L(lambda x: ops.copy(x) * 2.0, rand(2, 3))],
    "get_item": [L(lambda x: ops.get_item(x, (slice(None), 1)), rand(3, 4))],
    "diagflat": [L(lambda x: ops.diagflat(x, k=1), rand(2, 2))],
    "vander": [L(lambda x: ops.vander(x, N=4), rand(3), bound=REL)],
    "depth_to_space": [L(lambda x: ops.depth_to_space(x, 2), rand(2, 2, 3, 8)),
                       L(lambda x: ops.depth_to_space(x, 2, data_format="channels_first"),
                         rand(1, 8, 2, 3))],
    "space_to_depth": [L(lambda x: ops.space_to_depth(x, 2), rand(2, 4, 2, 3)),
                       L(lambda x: ops.space_to_depth(x, 2, data_format="channels_first"),
                         rand(1, 2, 4, 6))],
    # -- gathers and scatters ---------------------------------------------------------------
    "take": [G(lambda x: ops.take(x, IDX, axis=1), rand(2, 3, 2)),
             G(lambda x, i: ops.take(x, i, axis=0), rand(5, 3), ints(4, hi=5))],
    "take_along_axis": [G(lambda x: ops.take_along_axis(x, ALONG, axis=1), rand(2, 3))],
    "scatter_add": [G(lambda x, u: ops.scatter_add(x, IDX, u, axis=0), rand(3, 2),
                      rand(3, 2, 2), bound=NORM)],
    "segment_sum": [G(lambda d: ops.segment_sum(d, np.int32([2, 0, 2, 7, 1]), num_segments=4),
                      rand(5, 3), bound=NORM)],
    # coordinates into the first two axes; (1, 2) twice: scatter accumulates repeats
    "scatter": [G(lambda v: ops.scatter(np.int32([[1, 2], [0, 0], [1, 2]]), v, (2, 3, 4)),
                  rand(3, 4), bound=NORM)],
    "scatter_update": [G(lambda x, u: ops.scatter_update(x, np.int32([[2], [0]]), u),
                         rand(4, 3), rand(2, 3))],
    "unravel_index": [nograd(lambda i: ops.unravel_index(i, (3, 4, 5)),
                             np.int32([0, 7, 59, 23, 40]))],
    "scatter_add_along_axis": [G(
        lambda x, u: bind(layout.SCATTER_ADD_ALONG_AXIS, x, ops.convert_to_tensor(ALONG), u,
                          axis=1), rand(2, 3), rand(2, 4), bound=NORM)],
    "one_hot": [nograd(lambda i: ops.one_hot(i, 4), ints(3, hi=4), group="gather")],
    "multi_hot": [nograd(lambda i: ops.multi_hot(i, 4), ints(3, 2, hi=4), group="gather")],
    # -- linear algebra ---------------------------------------------------------------------
    "matmul": [M(ops.matmul, rand(2, 1, 3, 4), rand(3, 4, 2)),
               M(ops.matmul, rand(4), rand(4, 3)),
               M(ops.matmul, rand(17, 33), rand(33, 9))],
    "dot": [M(ops.dot, rand(3, 4), rand(4, 2))],
    "vdot": [M(ops.vdot, rand(6), rand(6))],
    "inner": [M(ops.inner, rand(2, 4), rand(3, 4))],
    "outer": [M(ops.outer, rand(3), rand(4), bound=REL)],
    "tensordot": [M(lambda a, b: ops.tensordot(a, b, axes=([1, 2], [0, 2])), rand(2, 3, 4),
                    rand(3, 5, 4))],
    "einsum": [M(lambda q, k: ops.einsum("abnh,acnh->anbc", q, k), rand(2, 3, 2, 4),
                 rand(2, 5, 2, 4)),
               M(lambda x, w: ops.einsum("...b,bc->...c", x, w), rand(2, 3, 4), rand(4, 5))],
    "kron": [M(ops.kron, rand(2, 3), rand(3, 2), bound=EXACT)],
    "cross": [M(ops.cross, rand(4, 3), rand(3), bound=NORM),
              M(lambda a, b: ops.cross(a, b, axisa=0, axisc=0), rand(2, 4), rand(4, 3),
                bound=NORM)],
    "corrcoef": [M(ops.corrcoef, rand(3, 6))],
    # -- nn: normalization, losses ----------------------------------------------------------
    "batch_normalization": [N(
        lambda x, m, v, b, s: ops.batch_normalization(x, m, v, axis=1, offset=b, scale=s),
        rand(4, 3), rand(3), rand(3, lo=0.5, hi=1.5), rand(3), rand(3))],
    "rms_normalization": [N(lambda x, s: ops.rms_normalization(x, scale=s), rand(3, 5),
                            rand(5))],
    "layer_normalization": [N(lambda x, g, b: ops.layer_normalization(x, g, b, axis=0),
                              rand(3, 4), rand(3), rand(3))],
    "dot_product_attention": [
        N(lambda q, k, v, b: ops.dot_product_attention(q, k, v, bias=b, mask=ATTENTION_MASK,
                                                       is_causal=True),
          rand(2, 3, 4, 2), rand(2, 5, 2, 2), rand(2, 5, 2, 3), rand(1, 4, 3, 5)),
        N(lambda q, k, v: ops.dot_product_attention(q, k, v, scale=0.3), rand(2, 3, 2, 4),
          rand(2, 4, 2, 4), rand(2, 4, 2, 4))],
    "binary_crossentropy": [
        N(ops.binary_crossentropy, rand(3, 2, lo=0, hi=1), rand(3, 2, lo=0.05, hi=0.95)),
        N(lambda y, p: ops.binary_crossentropy(y, p, from_logits=True),
          rand(3, 2, lo=0, hi=1), rand(3, 2, lo=-3, hi=3))],
    "categorical_crossentropy": [
        N(ops.categorical_crossentropy, rand(3, 4, lo=0, hi=1), rand(3, 4, lo=0.1, hi=1.0)),
        N(lambda y, p: ops.categorical_crossentropy(y, p, from_logits=True),
          rand(3, 4, lo=0, hi=1), rand(3, 4, lo=-3, hi=3))],
    "sparse_categorical_crossentropy": [
        N(lambda p: ops.sparse_categorical_crossentropy(np.array([1, 0, 3]), p,
                                                        from_logits=True),
          rand(3, 4, lo=-3, hi=3)),
        N(lambda p: ops.sparse_categorical_crossentropy(np.array([[1], [0], [3]]), p),
          rand(3, 4, lo=0.1, hi=1.0))],
    "psnr": [N(lambda a, b: ops.psnr(a, b, 1.0), rand(3, 4), rand(3, 4))],
    # -- conv and pooling -------------------------------------------------------------------
    "conv": [C(lambda x, w: bind(nn.CONV, x, w, **CONV_ATTRS), rand(2, 5, 4, 4),
               rand(3, 2, 2, 6)),
             C(lambda x, w: ops.conv(x, w, padding="same", dilation_rate=2), rand(1, 7, 2),
               rand(3, 2, 3))],
    "conv_input_grad": [
        C(lambda ct, w: bind(nn.CONV_INPUT_GRAD, ct, w, input_spatial=(5, 4), **CONV_ATTRS),
          rand(2, 3, 4, 6), rand(3, 2, 2, 6)),
        C(lambda ct, w: bind(nn.CONV_INPUT_GRAD, ct, w, input_spatial=(6,),
                             **CONV_ATTRS_DIL), rand(1, 7, 3), rand(2, 2, 3))],
    "conv_filter_grad": [C(
        lambda x, ct: bind(nn.CONV_FILTER_GRAD, x, ct, kernel_spatial=(3, 2), **CONV_ATTRS),
        rand(2, 5, 4, 4), rand(2, 3, 4, 6))],
    "conv_transpose": [C(lambda x, w: ops.conv_transpose(x, w, strides=2, padding="same"),
                         rand(1, 3, 3, 2), rand(3, 3, 4, 2))],
    "depthwise_conv": [C(lambda x, w: ops.depthwise_conv(x, w, padding="same"),
                         rand(1, 4, 4, 2), rand(3, 3, 2, 2))],
    "separable_conv": [C(lambda x, d, p: ops.separable_conv(x, d, p, padding="same"),
                         rand(1, 5, 5, 2), rand(3, 3, 2, 2), rand(1, 1, 4, 3))],
    "max_pool": [C(lambda x: bind(nn.MAX_POOL, x, **POOL_ATTRS), distinct(2, 4, 5, 2),
                   bound=EXACT),
                 C(lambda x: ops.max_pool(x, 2, padding="same"), distinct(1, 5, 3),
                   bound=EXACT)],
    "max_pool_grad": [C(lambda x, ct: bind(nn.MAX_POOL_GRAD, x, ct, **POOL_ATTRS),
                        distinct(2, 4, 5, 2), rand(2, 2, 3, 2))],
    "max_pool_select": [C(lambda x, g: bind(nn.MAX_POOL_SELECT, x, g, **POOL_ATTRS),
                          distinct(2, 4, 5, 2), rand(2, 4, 5, 2))],
    "avg_pool": [C(lambda x: bind(nn.AVG_POOL, x, **POOL_ATTRS), rand(2, 4, 5, 2))],
    "average_pool": [C(lambda x: ops.average_pool(x, 3, strides=2, padding="same"),
                       rand(1, 5, 2))],
    "avg_pool_grad": [C(lambda ct: bind(nn.AVG_POOL_GRAD, ct, input_spatial=(4, 5),
                                        **POOL_ATTRS), rand(2, 2, 3, 2))],
    # -- control flow: Python over ops, unrolled (loops) or both branches + where (traced
    # predicates); each case's predicate, index or condition is traced. --------------------
    "cond": [CF(lambda x: ops.cond(ops.sum(x) > 0.0, lambda: x * 2.0, lambda: x * x - 1.0),
                rand(3, 5)),
             CF(lambda x: ops.cond(ops.sum(x) < -100.0, lambda: (x, x * 2.0),
                                   lambda: (x * x, x - 1.0)), rand(3, 5))],
    "switch": [CF(lambda x: ops.switch(ops.argmax(ops.sum(x, axis=0)) - 1,
                                       [lambda v: v + 1.0, lambda v: v * 3.0,
                                        lambda v: v * v], x), rand(3, 5))],
    "while_loop": [
        # Traced condition: unrolled maximum_iterations times, steps masked with where. The
        # sums are far from 20 at every doubling, so both sides stop at the same step.
        CF(lambda x: ops.while_loop(lambda v: ops.sum(ops.abs(v)) < 20.0,
                                    lambda v: v * 2.0, x, maximum_iterations=5),
           rand(3, 5, lo=0.3, hi=0.7)),
        # Condition on a Python counter: known while tracing, the loop unrolls plainly.
        CF(lambda x: ops.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * 0.5 + x),
                                    (0, x))[1], rand(3, 5),
           bound=Bound("norm", RTOL, "three chained multiply-adds: their rounding (and "
                                      "any contraction) differs in the last bits"))],
    "fori_loop": [CF(lambda x: ops.fori_loop(0, 3, lambda i, v: v * 0.5 + x * float(i), x),
                     rand(3, 5), bound=Bound("norm", RTOL, "chained multiply-adds, as above"))],
    "scan": [CF(lambda x: ops.scan(lambda c, r: (c + r, c * r), ops.zeros((5,)), x), rand(4, 5),
                bound=NORM),
             CF(lambda x: ops.scan(lambda c, r: (c * r, None), ops.ones((5,)), x,
                                   reverse=True)[0], rand(4, 5))],
    "map": [CF(lambda x: ops.map(lambda r: ops.sum(r * r), x), rand(4, 5), bound=NORM)],
    "vectorized_map": [CF(lambda x, y: ops.vectorized_map(lambda e: e[0] * 2.0 + e[1], (x, y)),
                          rand(4, 5), rand(4, 5))],
    "associative_scan": [CF(lambda x: ops.associative_scan(lambda a, b: a + b, x, axis=1),
                            rand(3, 5), bound=NORM)],
    # -- sorting (opaque) -------------------------------------------------------------------
    "median": [OpCase(lambda x: ops.median(x, axis=0), distinct(4, 3), bound=NORM,
                      group="opaque")],
    "quantile": [OpCase(lambda x: ops.quantile(x, [0.3, 0.8], axis=1), distinct(3, 5),
                        bound=NORM, group="opaque"),
                 OpCase(lambda x: ops.quantile(x, 0.5, method="nearest"), distinct(3, 5),
                        bound=EXACT, group="opaque")],
    "percentile": [OpCase(lambda x: ops.percentile(x, 37.0, axis=1, keepdims=True),
                          distinct(3, 5), bound=NORM, group="opaque")],
    "argsort": [nograd(lambda x: ops.argsort(x, axis=-1), distinct(3, 5), group="opaque")],
    "sort": [OpCase(lambda x: ops.sort(x, axis=0), distinct(4, 3), bound=EXACT,
                    group="opaque")],
    "top_k": [OpCase(lambda x: ops.top_k(x, 2), distinct(3, 5), bound=EXACT, group="opaque")],
    "in_top_k": [nograd(lambda t, p: ops.in_top_k(t, p, 2), ints(3, hi=5), distinct(3, 5),
                        group="opaque")],
    # -- creation ---------------------------------------------------------------------------
    "full": [K(lambda x: x + ops.full((3, 4), 1.5), rand(3, 4), bound=REL)],
    "full_like": [K(lambda x: ops.full_like(x, 2.5), rand(3, 4)),
                  # The primitive itself (ops.full_like binds it only for unknown dims).
                  K(lambda x: bind(creation.FULL_LIKE, x, value=2.5, dtype="float32") * x,
                    rand(3, 4), bound=REL)],
    "zeros": [K(lambda x: x * ops.zeros((3,)), rand(3))],
    "ones": [K(lambda x: x * ops.ones((3,)), rand(3))],
    "zeros_like": [K(ops.zeros_like, rand(3, 2))],
    "ones_like": [K(ops.ones_like, rand(3, 2))],
    "empty": [K(lambda x: ops.empty((2, 3)) * 0 + x, rand(2, 3))],
    "empty_like": [K(lambda x: ops.empty_like(x) * 0 + x, rand(2, 3))],
    "arange": [K(lambda x: x * ops.arange(5), rand(5), bound=REL),
               K(lambda x: x + ops.arange(0.0, 1.0, 0.25), rand(4), bound=REL)],
    "linspace": [K(lambda x: x + ops.linspace(-1.0, 1.0, 5), rand(5), bound=REL)],
    "eye": [K(lambda x: x @ ops.eye(3, 4, k=1), rand(2, 3), bound=REL)],
    "identity": [K(lambda x: x * ops.identity(3), rand(3, 3), bound=REL)],
    "tri": [K(lambda x: x * ops.tri(3, 4), rand(3, 4), bound=REL)],
    "logspace": [K(lambda x: x * ops.logspace(-1.0, 2.0, 5, base=3), rand(5), bound=REL)],
    "geomspace": [K(lambda x: x * ops.geomspace(-2.0, -40.0, 5), rand(5), bound=REL)],
    "bartlett": [K(lambda x: x * ops.bartlett(6), rand(6), bound=REL)],
    "blackman": [K(lambda x: x * ops.blackman(6), rand(6), bound=REL)],
    "hamming": [K(lambda x: x * ops.hamming(6), rand(6), bound=REL)],
    "hanning": [K(lambda x: x * ops.hanning(6), rand(6), bound=REL)],
    # -- random -----------------------------------------------------------------------------
    "random_bits": [RND(lambda k: random_ops.random_bits(k, (3, 5)), KEY)],
    "bits_to_unit_float": [RND(lambda k: random_ops.bits_to_unit_float(
        random_ops.random_bits(k, (4, 3)), "float32"), KEY)],
    "random_permutation": [RND(lambda k: random_ops.random_permutation(k, 9), KEY)],
}

# gk.random (sampling and transforms): bit-identical eager and compiled. The key is an
# argument: a constant key (an int seed) would let constant folding draw the numbers at
# compile time, with the eager kernels, and the compiled Philox would never run.
RANDOM_CASES = {
    "uniform": RND(lambda k: gk.random.uniform((3, 4), -2.0, 3.0, seed=k), KEY + 1),
    "normal": RND(lambda k: gk.random.normal((3, 4), 1.0, 2.0, seed=k), KEY + 2),
    "truncated_normal": RND(lambda k: gk.random.truncated_normal((5, 4), seed=k), KEY + 3),
    "dropout": RND(lambda x, k: gk.random.dropout(x, 0.3, seed=k), rand(6, 5), KEY + 4),
    "dropout_noise_shape": RND(lambda x, k: gk.random.dropout(x, 0.5, noise_shape=(1, 5),
                                                              seed=k), rand(6, 5), KEY + 5),
    "shuffle": RND(lambda x, k: gk.random.shuffle(x, seed=k), rand(7, 3), KEY + 6),
    "randint": RND(lambda k: gk.random.randint((4, 6), -3, 11, seed=k), KEY + 7),
    "categorical": RND(lambda x, k: gk.random.categorical(x, 9, seed=k), rand(3, 5), KEY + 8),
    "gamma": RND(lambda a, k: gk.random.gamma((6, 5), a, seed=k),
                 np.array([0.3, 1.0, 2.5, 10.0, 0.7], np.float32), KEY + 9),
    "beta": RND(lambda k: gk.random.beta((4, 6), 0.4, 2.5, seed=k), KEY + 10),
    "binomial": RND(lambda k: gk.random.binomial((4, 6), 9, 0.35, seed=k), KEY + 11),
}

# Primitives with no operands never become IR nodes: bind runs them eagerly even while
# tracing, and the trace captures the result as a constant (a uniform one as `full`).
TRACED_AS_CONSTANT = {"arange": "no operands: an eager result, captured as a constant"}

# gk.ops names that are not computations on tensors (nothing to compile), with why.
NOT_OPS = {
    "convert_to_tensor": "wraps a value", "convert_to_numpy": "leaves graphkit",
    "is_tensor": "a Python predicate", "shape": "static shape", "ndim": "static rank",
    "size": "static size", "bind": "the dispatcher itself", "Primitive": "a class",
    "array": "wraps a value (convert_to_tensor)", "dtype": "a dtype name",
    "PRIMITIVES": "the registry",
}


def op_case_ids():
    return [f"{name}#{i}" for name, cases in OP_CASES.items() for i in range(len(cases))]


def op_case(case_id):
    name, i = case_id.rsplit("#", 1)
    return OP_CASES[name][int(i)]


def public_op_names():
    return sorted(n for n in dir(gk.ops) if not n.startswith("_") and n not in NOT_OPS
                  and not isinstance(getattr(gk.ops, n), types.ModuleType))


# -- batched comparison ---------------------------------------------------------------------

def _cotangent(shape, dtype):
    """A fixed, non-symmetric cotangent: sum(out * ct) weighs every element differently."""
    n = int(np.prod(shape, dtype=np.int64))
    return (np.sin(np.arange(n) * 0.77 + 0.31) + 0.1).reshape(shape).astype(dtype)


def _float_outputs(out):
    return [o for o in gk.tree.flatten(out) if hasattr(o, "dtype") and
            np.issubdtype(np.dtype(str(o.dtype)), np.floating)]


def _cotangents(fn, inputs):
    """One cotangent per float output of `fn(*inputs)` (shapes from one eager call)."""
    outs = _float_outputs(fn(*[ops.convert_to_tensor(a) for a in inputs]))
    return [_cotangent(tuple(o.shape), str(o.dtype)) for o in outs]


def _weighted_sum(outputs, cts):
    total = 0.0
    for o, ct in zip(_float_outputs(outputs), cts):
        total = total + ops.sum(o * ct)
    return total


def grad_fn(fn, inputs):
    """`(float inputs..., cotangents...) -> gradients of sum(fn(...) * ct)` w.r.t. the float
    inputs, the other inputs closed over as constants, and the arguments to call it with.
    The cotangents are arguments, not constants: with constant cotangents, the gradient of a
    linear op (layout, gather, matmul w.r.t. one operand...) would be folded away at compile
    time, and the compiled code never run."""
    where = [i for i, a in enumerate(inputs) if _is_float(a)]
    fixed = {i: a for i, a in enumerate(inputs) if i not in where}
    cts = _cotangents(fn, inputs)
    n = len(where)

    def grads(*args):
        floats, cts_in = args[:n], args[n:]

        def loss(*floats):
            call = [None] * len(inputs)
            for i, a in zip(where, floats):
                call[i] = a
            for i, a in fixed.items():
                call[i] = a
            return _weighted_sum(fn(*call), cts_in)
        return gk.value_and_grad(loss, argnums=tuple(range(n)))(*floats)[1]
    return grads, [inputs[i] for i in where] + cts


class Outcome:
    """One case's compared values (eager, compiled pairs) or the error it raised."""

    def __init__(self, pairs=None, error=None, stats=None):
        self.pairs, self.error, self.stats = pairs or [], error, stats or {}


def run_batch(cases, owners=None):
    """{case id: Outcome} for `cases` ({id: (fn, inputs)}) in one compiled function; on a
    trace/compile error, each case alone (so the error names its case). Variables the
    batch updates (BatchNormalization statistics, seed states) are compared too, under the
    case whose layer (`owners`: {id: layer}) owns them."""
    def batch(arg_dict):
        # Tensors, not ndarrays: primitives bound directly (bind) take graphkit values only.
        return {cid: fn(*[ops.convert_to_tensor(a) for a in arg_dict[cid]])
                for cid, (fn, _) in cases.items()}
    args = {cid: list(inputs) for cid, (_, inputs) in cases.items()}
    try:
        report = compare(batch, args)
    except Exception:  # noqa: BLE001  (re-run alone below to attribute it)
        if len(cases) == 1:
            raise
        out = {}
        for cid, case in cases.items():
            try:
                out.update(run_batch({cid: case}, owners))
            except Exception as err:  # noqa: BLE001
                out[cid] = Outcome(error=f"{type(err).__name__}: {err}")
        return out
    out = {cid: Outcome(stats=report.backend_stats) for cid in cases}
    for row in report.rows:
        out[_case_of(row.name, cases)].pairs.append((row.name, row.reference, row.compiled))
    for row in report.state_rows:
        out[_owner_of(row.name, owners or {})].pairs.append(
            (row.name, row.reference, row.compiled))
    return out


def _case_of(row_name, cases):
    for cid in cases:
        if row_name.startswith(f"out[{cid!r}]"):
            return cid
    raise AssertionError(f"compare row {row_name!r} belongs to no case")


def _owner_of(row_name, owners):
    path = row_name[len("var:"):]
    for cid, layer in owners.items():
        if any(v.path == path for v in layer.variables):
            return cid
    raise AssertionError(f"compare updated variable {path!r}, which no case's layer owns")


@functools.lru_cache(maxsize=None)
def op_outcomes(group, mode):
    """Every op case of `group`, forward ("forward") or gradient ("grad"), compared once."""
    cases = {}
    for cid in op_case_ids():
        case = op_case(cid)
        if case.group != group or (mode == "grad" and not case.grad):
            continue
        cases[cid] = grad_fn(case.fn, case.inputs) if mode == "grad" else \
            (case.fn, case.inputs)
    return run_batch(cases) if cases else {}


@functools.lru_cache(maxsize=None)
def random_outcomes():
    return run_batch({name: (c.fn, c.inputs) for name, c in RANDOM_CASES.items()})


def interpreted_kernels(outcomes):
    """What the LLVM backend ran on the interpreter for these outcomes (its
    stats()["interpreted_kernels"]; empty: fully native), for reports."""
    seen = []
    for o in outcomes.values():
        for k in o.stats.get("interpreted_kernels", []):
            if k not in seen:
                seen.append(k)
    return seen


# -- layer cases ----------------------------------------------------------------------------

class LayerCase:
    """`call(layer, *inputs)` for the layer `make()` returns, compared eagerly and compiled;
    the gradient of sum(outputs * ct) with respect to the float inputs and the layer's
    trainable weights too (`grad`)."""

    def __init__(self, make, *inputs, call=None, bound=NORM, grad=True, group="core"):
        self.make, self.inputs, self.bound, self.group = make, inputs, bound, group
        self.call = call or (lambda layer, *xs: layer(*xs))
        self.grad = grad


def _random_weights(layer):
    """Non-trivial weights (biases, betas and gammas are 0 and 1 when fresh); variances
    positive."""
    for v in layer.weights:
        if not np.issubdtype(np.dtype(str(v.dtype)), np.floating):
            continue
        lo, hi = (0.5, 1.5) if "variance" in v.path else (-0.6, 0.6)
        v.assign(_RNG.uniform(lo, hi, tuple(v.shape)).astype(str(v.dtype)))


class _Linear(gk.Layer):
    """The subclassing guide's Linear: a user Layer (the base class's case)."""

    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros")

    def call(self, inputs):
        return ops.tanh(ops.matmul(inputs, self.w) + self.b)


def _pair(layer_cls, **kw):
    return LayerCase(lambda: layer_cls(**kw), rand(3, 4), rand(3, 4),
                     call=lambda layer, a, b: layer([a, b]))


# batch, steps, features: RNNs unroll over the steps, so every step is more kernels to
# compile (the sweep's slowest part); 2 steps carry a state across a step, and the lengths
# (2, 1, 0) still cover a full row, a padded one and a fully masked one.
SEQ = (3, 2, 2)
_x_seq = rand(*SEQ)
_mask = np.arange(2)[None, :] < np.array([2, 1, 0])[:, None]


def _rnn(cls, units=3, **kw):
    return LayerCase(lambda: cls(units, **kw), _x_seq, _mask,
                     call=lambda layer, x, m: layer(x, mask=m), group="rnn")


def _cell(cls):
    n_states = 2 if cls is layers.LSTMCell else 1
    return LayerCase(lambda: cls(3), rand(3, 2), *[rand(3, 3) for _ in range(n_states)],
                     call=lambda layer, x, *states: layer(x, list(states)), group="rnn")


LAYER_CASES = {
    "Layer": [LayerCase(lambda: _Linear(4), rand(3, 5))],
    "InputLayer": [LayerCase(lambda: gk.Sequential([layers.InputLayer(shape=(5,)),
                                                    layers.Dense(3)]), rand(3, 5))],
    "Dense": [LayerCase(lambda: layers.Dense(4, activation="relu"), rand(3, 6)),
              LayerCase(lambda: layers.Dense(3), rand(2, 3, 5))],
    "EinsumDense": [LayerCase(lambda: layers.EinsumDense("abc,cd->abd", (3, 4), bias_axes="d"),
                              rand(2, 3, 5))],
    "Activation": [LayerCase(lambda: layers.Activation("tanh"), rand(3, 5))],
    "Identity": [LayerCase(layers.Identity, rand(3, 4), bound=EXACT)],
    "Lambda": [LayerCase(lambda: layers.Lambda(lambda x: ops.square(x) + 1.0), rand(3, 4))],
    "Normalization": [LayerCase(lambda: layers.Normalization(axis=(1, 2)), rand(3, 2, 4))],
    "Rescaling": [LayerCase(lambda: layers.Rescaling(0.5, offset=-1.0), rand(3, 4))],
    "CategoryEncoding": [
        LayerCase(lambda: layers.CategoryEncoding(5), ints(3, 4, hi=5), bound=EXACT, grad=False),
        LayerCase(lambda: layers.CategoryEncoding(5, output_mode="count"), ints(3, 4, hi=5),
                  rand(3, 4), call=lambda layer, i, w: layer(i, count_weights=w), grad=False)],
    "Discretization": [LayerCase(lambda: layers.Discretization([-0.5, 0.0, 0.5]),
                                 away_from([-0.5, 0.0, 0.5], 3, 4), bound=EXACT, grad=False),
                       LayerCase(lambda: layers.Discretization([-0.5, 0.5], output_mode="count"),
                                 away_from([-0.5, 0.5], 3, 4), bound=EXACT, grad=False)],
    # -- image preprocessing (random layers in training: the same draws compiled) --------
    "Resizing": [LayerCase(lambda: layers.Resizing(5, 3), rand(2, 4, 6, 2), group="conv"),
                 LayerCase(lambda: layers.Resizing(3, 5, interpolation="nearest",
                                                   pad_to_aspect_ratio=True),
                           rand(2, 4, 4, 2), bound=EXACT, group="conv")],
    "CenterCrop": [LayerCase(lambda: layers.CenterCrop(3, 2), rand(2, 5, 4, 2), bound=EXACT,
                             group="conv"),
                   LayerCase(lambda: layers.CenterCrop(6, 3, data_format="channels_first"),
                             rand(2, 2, 4, 4), group="conv")],
    "RandomFlip": [LayerCase(lambda: layers.RandomFlip(seed=12), rand(6, 3, 4, 2),
                             call=lambda layer, x: layer(x, training=True), bound=EXACT,
                             group="conv")],
    "RandomCrop": [LayerCase(lambda: layers.RandomCrop(3, 2, seed=13), rand(2, 5, 4, 2),
                             call=lambda layer, x: layer(x, training=True), bound=EXACT,
                             group="conv")],
    "RandomContrast": [LayerCase(lambda: layers.RandomContrast((0.3, 0.5), value_range=(-1, 1),
                                                               seed=14), rand(4, 3, 4, 2),
                                 call=lambda layer, x: layer(x, training=True), bound=EXACT,
                                 group="conv")],
    "RandomBrightness": [LayerCase(lambda: layers.RandomBrightness(0.2, value_range=(-1, 1),
                                                                   seed=15), rand(4, 3, 4, 2),
                                   call=lambda layer, x: layer(x, training=True), bound=EXACT,
                                   group="conv")],
    "RandomTranslation": [LayerCase(lambda: layers.RandomTranslation(0.3, 0.4, seed=16),
                                    rand(3, 4, 5, 2),
                                    call=lambda layer, x: layer(x, training=True),
                                    bound=EXACT, group="conv"),
                          LayerCase(lambda: layers.RandomTranslation(
                              0.5, 0.5, fill_mode="wrap", interpolation="nearest", seed=17),
                              rand(3, 4, 5, 2), call=lambda layer, x: layer(x, training=True),
                              bound=EXACT, group="conv")],
    "RandomZoom": [LayerCase(lambda: layers.RandomZoom(0.4, 0.3, fill_mode="constant", seed=18),
                             rand(3, 4, 5, 2), call=lambda layer, x: layer(x, training=True),
                             bound=EXACT, group="conv")],
    "RandomRotation": [LayerCase(lambda: layers.RandomRotation(0.2, fill_mode="nearest",
                                                               seed=19),
                                 rand(3, 5, 4, 2), call=lambda layer, x: layer(x, training=True),
                                 bound=EXACT, group="conv")],
    # color augmentations: the draws, comparisons, floors and power-of-two steps are exact;
    # the luma is a sum of three products, whose order the compiled kernel may change (NORM)
    "RandomGrayscale": [LayerCase(lambda: layers.RandomGrayscale(0.5, seed=20),
                                  rand(6, 3, 4, 3), call=lambda layer, x: layer(x, training=True),
                                  bound=NORM, group="conv")],
    "RandomInvert": [LayerCase(lambda: layers.RandomInvert((0.3, 0.7), value_range=(-1, 1),
                                                           seed=21), rand(6, 3, 4, 2),
                               call=lambda layer, x: layer(x, training=True), bound=EXACT,
                               group="conv")],
    "Solarization": [LayerCase(lambda: layers.Solarization((0.1, 0.3), (0.2, 0.6),
                                                           value_range=(-1, 1), seed=22),
                               rand(4, 3, 4, 2), call=lambda layer, x: layer(x, training=True),
                               bound=EXACT, group="conv")],
    "RandomPosterization": [LayerCase(lambda: layers.RandomPosterization(
                                          (2, 6), value_range=(-1, 1), seed=23),
                                      rand(4, 3, 4, 2),
                                      call=lambda layer, x: layer(x, training=True), bound=EXACT,
                                      group="conv")],
    "RandomColorDegeneration": [LayerCase(lambda: layers.RandomColorDegeneration(
        0.8, value_range=(-1, 1), seed=24), rand(4, 3, 4, 3),
        call=lambda layer, x: layer(x, training=True), bound=NORM, group="conv")],
    # HSV round trips: a few divisions and products per pixel, each correctly rounded (REL);
    # sharpness smooths by a 3x3 convolution, an accumulation (NORM)
    "RandomSaturation": [LayerCase(lambda: layers.RandomSaturation((0.2, 0.8), value_range=(0, 1),
                                                                   seed=25),
                                   rand(4, 3, 4, 3, lo=0.0), bound=REL, group="conv",
                                   call=lambda layer, x: layer(x, training=True))],
    "RandomHue": [LayerCase(lambda: layers.RandomHue(0.6, value_range=(0, 1), seed=26),
                            rand(4, 3, 4, 3, lo=0.0), bound=REL, group="conv",
                            call=lambda layer, x: layer(x, training=True))],
    "RandomSharpness": [LayerCase(lambda: layers.RandomSharpness((0.1, 0.9), value_range=(-1, 1),
                                                                 seed=27),
                                  rand(4, 5, 4, 2), bound=NORM, group="conv",
                                  call=lambda layer, x: layer(x, training=True))],
    # erasing: boxes, coins and normal noise (float32 noise rounded once from float64, so
    # bit-identical but for ~1e-8 odds per sample, as the random op cases)
    # mixing: a shuffle and Beta(alpha, alpha) weights (gamma draws in float64, rounded
    # once), then a blend: one correctly rounded op chain per element
    "MixUp": [LayerCase(lambda: layers.MixUp(alpha=0.4, seed=30), rand(5, 3, 4, 2),
                        rand(5, 3), bound=REL, group="conv",
                        call=lambda layer, x, y: layer({"images": x, "labels": y},
                                                       training=True))],
    # a box from uniforms, the same Beta weights as MixUp: selection is exact, labels REL
    "CutMix": [LayerCase(lambda: layers.CutMix(seed=31), rand(5, 6, 5, 2), rand(5, 3),
                         bound=REL, group="conv",
                         call=lambda layer, x, y: layer({"images": x, "labels": y},
                                                        training=True))],
    "RandomErasing": [LayerCase(lambda: layers.RandomErasing(0.8, value_range=(-1, 1), seed=28),
                                rand(4, 6, 5, 2), bound=EXACT, group="conv",
                                call=lambda layer, x: layer(x, training=True)),
                      LayerCase(lambda: layers.RandomErasing(
                          (0.5, 1.0), scale=(0.2, 0.6), fill_value=(0.5, -2.0, 0.1),
                          value_range=(-1, 1), data_format="channels_first", seed=29),
                          rand(4, 3, 6, 5), bound=EXACT, group="conv",
                          call=lambda layer, x: layer(x, training=True))],
    # activation layers: inputs away from the kinks, where one-sided gradients differ
    "ReLU": [LayerCase(lambda: layers.ReLU(max_value=0.6, negative_slope=0.1, threshold=0.2),
                       away_from([0.2, 0.6], 3, 5))],
    "LeakyReLU": [LayerCase(layers.LeakyReLU, away_from([0.0], 3, 5))],
    "ELU": [LayerCase(lambda: layers.ELU(alpha=0.7), away_from([0.0], 3, 5))],
    "PReLU": [LayerCase(lambda: layers.PReLU(shared_axes=[1]), away_from([0.0], 2, 3, 4))],
    "Softmax": [LayerCase(lambda: layers.Softmax(axis=(1, 2)), rand(2, 3, 4)),
                LayerCase(layers.Softmax, rand(3, 4), np.array([[1, 1, 0, 1], [0, 0, 0, 0],
                                                                [1, 0, 1, 1]], bool),
                          call=lambda layer, x, m: layer(x, mask=m))],
    "ReversibleEmbedding": [
        LayerCase(lambda: layers.ReversibleEmbedding(6, 3, mask_zero=True), ints(2, 5, hi=6),
                  bound=EXACT, grad=False),
        LayerCase(lambda: layers.ReversibleEmbedding(6, 3, logit_soft_cap=2.0), rand(2, 3),
                  call=lambda layer, h: layer(h, reverse=True)),
        LayerCase(lambda: layers.ReversibleEmbedding(6, 3, tie_weights=False), rand(2, 4, 3),
                  call=lambda layer, h: layer(h, reverse=True))],
    "Embedding": [LayerCase(lambda: layers.Embedding(7, 3), ints(4, 5, hi=7), bound=EXACT),
                  LayerCase(lambda: layers.Embedding(7, 3, mask_zero=True), ints(2, 6, hi=7),
                            call=lambda layer, i: (layer(i), layer.compute_mask(i)),
                            bound=EXACT)],
    "Masking": [LayerCase(lambda: layers.Masking(0.0),
                          rand(3, 4, 2) * (np.arange(4) < 3)[None, :, None],
                          call=lambda layer, x: (layer(x), layer.compute_mask(x)),
                          bound=EXACT)],
    "Dropout": [LayerCase(lambda: layers.Dropout(0.4, seed=5), rand(6, 7),
                          call=lambda layer, x: layer(x, training=True), bound=EXACT),
                LayerCase(lambda: layers.Dropout(0.4, noise_shape=(1, 7), seed=6),
                          rand(6, 7), call=lambda layer, x: layer(x, training=True),
                          bound=EXACT)],
    "AlphaDropout": [LayerCase(lambda: layers.AlphaDropout(0.3, seed=12), rand(6, 7),
                               call=lambda layer, x: layer(x, training=True), bound=EXACT)],
    "GaussianNoise": [LayerCase(lambda: layers.GaussianNoise(0.3, seed=7), rand(6, 7),
                                call=lambda layer, x: layer(x, training=True), bound=EXACT)],
    "GaussianDropout": [LayerCase(lambda: layers.GaussianDropout(0.3, seed=8), rand(6, 7),
                                  call=lambda layer, x: layer(x, training=True),
                                  bound=EXACT)],
    "SpatialDropout1D": [LayerCase(lambda: layers.SpatialDropout1D(0.4, seed=9),
                                   rand(3, 4, 5), call=lambda layer, x: layer(x, training=True),
                                   bound=EXACT)],
    "SpatialDropout2D": [LayerCase(lambda: layers.SpatialDropout2D(
        0.4, data_format="channels_first", seed=10), rand(2, 3, 4, 5),
        call=lambda layer, x: layer(x, training=True), bound=EXACT)],
    "SpatialDropout3D": [LayerCase(lambda: layers.SpatialDropout3D(0.4, seed=11),
                                   rand(2, 2, 3, 2, 4),
                                   call=lambda layer, x: layer(x, training=True), bound=EXACT)],
    "ActivityRegularization": [LayerCase(
        lambda: layers.ActivityRegularization(l1=0.01, l2=0.02), rand(3, 4),
        call=lambda layer, x: (layer(x), ops.sum(ops.stack(layer.losses))))],
    "BatchNormalization": [
        LayerCase(lambda: layers.BatchNormalization(), rand(6, 4),
                  call=lambda layer, x: layer(x, training=True)),
        LayerCase(lambda: layers.BatchNormalization(axis=1), rand(2, 3, 4, 4),
                  call=lambda layer, x: layer(x, training=False), group="conv")],
    "RMSNormalization": [LayerCase(lambda: layers.RMSNormalization(axis=(1, 2)),
                                   rand(2, 3, 4))],
    "LayerNormalization": [LayerCase(lambda: layers.LayerNormalization(), rand(3, 6)),
                           LayerCase(lambda: layers.LayerNormalization(axis=(1, 2)),
                                     rand(2, 3, 4))],
    "GroupNormalization": [LayerCase(lambda: layers.GroupNormalization(groups=2), rand(3, 5, 4)),
                           LayerCase(lambda: layers.GroupNormalization(groups=-1, axis=1),
                                     rand(2, 3, 4))],
    "UnitNormalization": [LayerCase(lambda: layers.UnitNormalization(axis=(1, 2)),
                                    rand(2, 3, 4))],
    "Flatten": [LayerCase(layers.Flatten, rand(2, 3, 4), bound=EXACT)],
    "Reshape": [LayerCase(lambda: layers.Reshape((4, -1)), rand(2, 3, 4), bound=EXACT)],
    "Permute": [LayerCase(lambda: layers.Permute((2, 1)), rand(2, 3, 4), bound=EXACT)],
    "RepeatVector": [LayerCase(lambda: layers.RepeatVector(3), rand(2, 4), bound=EXACT)],
    "Add": [_pair(layers.Add)],
    "Subtract": [_pair(layers.Subtract)],
    "Multiply": [_pair(layers.Multiply)],
    "Average": [_pair(layers.Average)],
    "Maximum": [_pair(layers.Maximum)],
    "Minimum": [_pair(layers.Minimum)],
    "Concatenate": [_pair(layers.Concatenate, axis=-1)],
    "Dot": [_pair(layers.Dot, axes=1),
            LayerCase(lambda: layers.Dot((1, 2), normalize=True), rand(2, 3, 5), rand(2, 4, 3),
                      call=lambda layer, a, b: layer([a, b]))],
    # -- convolution and pooling --------------------------------------------------------
    "Conv1D": [LayerCase(lambda: layers.Conv1D(4, 3, padding="same", dilation_rate=2),
                         rand(2, 7, 3), group="conv"),
               LayerCase(lambda: layers.Conv1D(4, 2, strides=2, padding="causal",
                                               groups=2, activation="relu"),
                         rand(2, 8, 4), group="conv")],
    "Conv2D": [LayerCase(lambda: layers.Conv2D(4, 3, strides=2, padding="same"),
                         rand(2, 7, 6, 3), group="conv"),
               LayerCase(lambda: layers.Conv2D(4, (2, 3), data_format="channels_first",
                                               groups=2, dilation_rate=(2, 1)),
                         rand(2, 4, 6, 5), group="conv")],
    "Conv3D": [LayerCase(lambda: layers.Conv3D(4, 2, padding="same", groups=2),
                         rand(2, 3, 4, 3, 4), group="conv")],
    "Conv1DTranspose": [LayerCase(lambda: layers.Conv1DTranspose(3, 4, strides=3,
                                                                 padding="same"),
                                  rand(2, 5, 4), group="conv")],
    "Conv2DTranspose": [LayerCase(lambda: layers.Conv2DTranspose(
        3, 3, strides=2, padding="same", output_padding=1, activation="relu"),
        rand(2, 4, 5, 3), group="conv"),
        LayerCase(lambda: layers.Conv2DTranspose(2, (2, 3), dilation_rate=2,
                                                 data_format="channels_first"),
                  rand(2, 3, 4, 5), group="conv")],
    "Conv3DTranspose": [LayerCase(lambda: layers.Conv3DTranspose(
        2, (2, 3, 2), strides=(2, 1, 2), padding="same", output_padding=(1, 0, 0)),
        rand(1, 2, 3, 2, 3), group="conv")],
    "DepthwiseConv1D": [LayerCase(lambda: layers.DepthwiseConv1D(3, dilation_rate=2,
                                                                 depth_multiplier=2),
                                  rand(2, 9, 3), group="conv")],
    "DepthwiseConv2D": [LayerCase(lambda: layers.DepthwiseConv2D(
        3, strides=2, padding="same", depth_multiplier=2, data_format="channels_first"),
        rand(2, 3, 7, 6), group="conv")],
    "SeparableConv1D": [LayerCase(lambda: layers.SeparableConv1D(4, 3, strides=2),
                                  rand(2, 9, 3), group="conv")],
    "SeparableConv2D": [LayerCase(lambda: layers.SeparableConv2D(5, 3, padding="same",
                                                                 activation="relu"),
                                  rand(2, 6, 5, 3), group="conv")],
    "MaxPooling1D": [LayerCase(lambda: layers.MaxPooling1D(2, padding="same"),
                               distinct(2, 5, 3), bound=EXACT, group="conv")],
    "MaxPooling2D": [LayerCase(lambda: layers.MaxPooling2D((2, 2), strides=(2, 1)),
                               distinct(2, 5, 4, 3), bound=EXACT, group="conv")],
    "AveragePooling1D": [LayerCase(lambda: layers.AveragePooling1D(3, strides=2),
                                   rand(2, 7, 3), group="conv")],
    "AveragePooling2D": [LayerCase(lambda: layers.AveragePooling2D(2, padding="same"),
                                   rand(2, 5, 5, 3), group="conv")],
    "MaxPooling3D": [LayerCase(lambda: layers.MaxPooling3D((2, 2, 1), padding="same"),
                               distinct(1, 3, 4, 3, 2), bound=EXACT, group="conv")],
    "AveragePooling3D": [LayerCase(lambda: layers.AveragePooling3D(2, strides=1),
                                   rand(1, 3, 3, 4, 2), group="conv")],
    "GlobalAveragePooling3D": [LayerCase(layers.GlobalAveragePooling3D, rand(2, 2, 3, 2, 4),
                                         group="conv")],
    "GlobalMaxPooling3D": [LayerCase(layers.GlobalMaxPooling3D, distinct(2, 2, 3, 2, 4),
                                     bound=EXACT, group="conv")],
    # Output sizes that do not divide the inputs: overlapping bins.
    "AdaptiveAveragePooling1D": [LayerCase(lambda: layers.AdaptiveAveragePooling1D(3),
                                           rand(2, 7, 3), group="conv")],
    "AdaptiveAveragePooling2D": [LayerCase(lambda: layers.AdaptiveAveragePooling2D(
        (3, 2), data_format="channels_first"), rand(2, 3, 5, 7), group="conv")],
    "AdaptiveAveragePooling3D": [LayerCase(lambda: layers.AdaptiveAveragePooling3D((2, 3, 2)),
                                           rand(1, 3, 4, 5, 2), group="conv")],
    "AdaptiveMaxPooling1D": [LayerCase(lambda: layers.AdaptiveMaxPooling1D(4),
                                       distinct(2, 6, 3), bound=EXACT, group="conv")],
    "AdaptiveMaxPooling2D": [LayerCase(lambda: layers.AdaptiveMaxPooling2D((2, 3)),
                                       distinct(2, 5, 4, 3), bound=EXACT, group="conv")],
    "AdaptiveMaxPooling3D": [LayerCase(lambda: layers.AdaptiveMaxPooling3D(
        (2, 2, 3), data_format="channels_first"), distinct(1, 2, 3, 5, 4), bound=EXACT,
        group="conv")],
    "GlobalAveragePooling1D": [
        LayerCase(layers.GlobalAveragePooling1D, rand(3, 5, 4), group="conv"),
        LayerCase(layers.GlobalAveragePooling1D, rand(3, 5, 3),
                  np.arange(5)[None, :] < np.array([5, 2, 1])[:, None],
                  call=lambda layer, x, m: layer(x, mask=m), group="conv")],
    "GlobalAveragePooling2D": [LayerCase(layers.GlobalAveragePooling2D, rand(2, 4, 3, 5),
                                         group="conv")],
    "GlobalMaxPooling1D": [LayerCase(layers.GlobalMaxPooling1D, distinct(3, 5, 4),
                                     bound=EXACT, group="conv")],
    "GlobalMaxPooling2D": [LayerCase(lambda: layers.GlobalMaxPooling2D(keepdims=True),
                                     distinct(2, 4, 3, 5), bound=EXACT, group="conv")],
    "ZeroPadding2D": [LayerCase(lambda: layers.ZeroPadding2D(((1, 0), (2, 1))),
                                rand(2, 3, 3, 2), bound=EXACT, group="conv")],
    "UpSampling2D": [LayerCase(lambda: layers.UpSampling2D((2, 3)), rand(2, 2, 3, 2),
                               bound=EXACT, group="conv")],
    "UpSampling1D": [LayerCase(lambda: layers.UpSampling1D(3), rand(2, 3, 2), bound=EXACT,
                               group="conv")],
    "UpSampling3D": [LayerCase(lambda: layers.UpSampling3D((1, 2, 2)), rand(1, 2, 2, 3, 2),
                               bound=EXACT, group="conv")],
    "ZeroPadding1D": [LayerCase(lambda: layers.ZeroPadding1D((2, 1)), rand(2, 3, 2),
                                bound=EXACT, group="conv")],
    "ZeroPadding3D": [LayerCase(lambda: layers.ZeroPadding3D((1, 0, 2)), rand(1, 2, 2, 3, 2),
                                bound=EXACT, group="conv")],
    "Cropping1D": [LayerCase(lambda: layers.Cropping1D((2, 1)), rand(2, 5, 2), bound=EXACT,
                             group="conv")],
    "Cropping2D": [LayerCase(lambda: layers.Cropping2D(((1, 0), (1, 2)),
                                                       data_format="channels_first"),
                             rand(2, 2, 4, 5), bound=EXACT, group="conv")],
    "Cropping3D": [LayerCase(lambda: layers.Cropping3D(((1, 0), (0, 1), (1, 1))),
                             rand(1, 3, 3, 4, 2), bound=EXACT, group="conv")],
    # -- recurrent ------------------------------------------------------------------------
    "SimpleRNNCell": [_cell(layers.SimpleRNNCell)],
    "LSTMCell": [_cell(layers.LSTMCell)],
    "GRUCell": [_cell(layers.GRUCell)],
    "SimpleRNN": [_rnn(layers.SimpleRNN, return_sequences=True, go_backwards=True)],
    "LSTM": [_rnn(layers.LSTM, return_sequences=True, return_state=True),
             LayerCase(lambda: layers.LSTM(3, go_backwards=True), _x_seq, rand(3, 3),
                       rand(3, 3), call=lambda layer, x, h, c: layer(x, initial_state=[h, c]),
                       group="rnn")],
    "GRU": [_rnn(layers.GRU, return_sequences=True),
            _rnn(layers.GRU, reset_after=False, return_state=True, go_backwards=True)],
    "RNN": [_rnn(lambda units: layers.RNN([layers.SimpleRNNCell(units), layers.GRUCell(2)],
                                          return_sequences=True, return_state=True),
                 units=2)],
    "StackedRNNCells": [LayerCase(
        lambda: layers.StackedRNNCells([layers.SimpleRNNCell(3), layers.LSTMCell(2)]),
        rand(3, 2), rand(3, 3), rand(3, 2), rand(3, 2),
        call=lambda layer, x, h1, h2, c2: layer(x, [h1, [h2, c2]]), group="rnn")],
    # Bidirectional's own logic (reversal, masks, merging) does not depend on the layer it
    # wraps; SimpleRNN is the cheapest to compile.
    # ConvLSTM: the same 2 steps and mask as the RNNs above, over small feature maps; one
    # case per rank (the conv is rank-specific), covering 'same'/'valid', strides,
    # channels_first, masks, go_backwards and an initial state between them.
    "ConvLSTM1D": [LayerCase(
        lambda: layers.ConvLSTM1D(2, 3, padding="same", return_sequences=True,
                                  return_state=True), rand(3, 2, 4, 2), _mask,
        call=lambda layer, x, m: layer(x, mask=m), group="rnn")],
    "ConvLSTM2D": [LayerCase(
        lambda: layers.ConvLSTM2D(2, 2, strides=(2, 1), go_backwards=True), rand(3, 2, 4, 3, 2),
        _mask, call=lambda layer, x, m: layer(x, mask=m), group="rnn"),
        LayerCase(lambda: layers.ConvLSTM2D(2, 2, padding="same",
                                            data_format="channels_first"),
                  rand(3, 2, 1, 3, 3), rand(3, 2, 3, 3), rand(3, 2, 3, 3),
                  call=lambda layer, x, h, c: layer(x, initial_state=[h, c]), group="rnn")],
    "ConvLSTM3D": [LayerCase(
        lambda: layers.ConvLSTM3D(2, 2, return_sequences=True), rand(3, 2, 2, 3, 2, 1), _mask,
        call=lambda layer, x, m: layer(x, mask=m), group="rnn")],
    "Bidirectional": [_rnn(lambda units: layers.Bidirectional(
                          layers.SimpleRNN(units, return_sequences=True)), units=2),
                      _rnn(lambda units: layers.Bidirectional(layers.SimpleRNN(units),
                                                              merge_mode="sum"), units=2)],
    # SpectralNormalization in training: the power iteration, and the assigned u and
    # kernel, compared as updated variables; in inference, the wrapped layer alone.
    "SpectralNormalization": [
        LayerCase(lambda: layers.SpectralNormalization(layers.Dense(3), power_iterations=2),
                  rand(2, 4), call=lambda layer, x: layer(x, training=True), group="rnn"),
        LayerCase(lambda: layers.SpectralNormalization(layers.Conv1D(2, 2)), rand(2, 4, 3),
                  group="rnn")],
    "TimeDistributed": [LayerCase(lambda: layers.TimeDistributed(layers.Dense(3)),
                                  rand(2, 3, 4), group="rnn")],
    # -- attention ------------------------------------------------------------------------
    "MultiHeadAttention": [
        LayerCase(lambda: layers.MultiHeadAttention(2, 3), rand(2, 4, 5), rand(2, 6, 5),
                  bools(2, 4, 6) | (np.arange(6) == 0)[None, None, :],
                  call=lambda layer, q, v, m: layer(q, v, attention_mask=m),
                  group="attention"),
        LayerCase(lambda: layers.MultiHeadAttention(2, 3, value_dim=2), rand(2, 4, 5),
                  call=lambda layer, x: layer(x, x, use_causal_mask=True,
                                              return_attention_scores=True),
                  group="attention")],
    "Attention": [
        LayerCase(lambda: layers.Attention(use_scale=True, score_mode="concat"),
                  rand(2, 4, 3), rand(2, 5, 3), bools(2, 4), bools(2, 5) | (np.arange(5) == 0),
                  call=lambda layer, q, v, qm, vm: layer([q, v], mask=[qm, vm],
                                                         return_attention_scores=True),
                  group="attention"),
        LayerCase(lambda: layers.Attention(), rand(2, 4, 3), rand(2, 4, 2),
                  call=lambda layer, q, v: layer([q, v, q], use_causal_mask=True),
                  group="attention")],
    # GroupQueryAttention: MultiHeadAttention's attention after repeating 1 key/value head
    # for 2 query heads; padding masks, causal mask and scores between the two cases.
    "GroupQueryAttention": [
        LayerCase(lambda: layers.GroupQueryAttention(3, 2, 1), rand(2, 4, 5), rand(2, 6, 3),
                  bools(2, 4), bools(2, 6) | (np.arange(6) == 0),
                  call=lambda layer, q, v, qm, vm: layer(q, v, query_mask=qm, value_mask=vm),
                  group="attention"),
        LayerCase(lambda: layers.GroupQueryAttention(2, 4, 2), rand(2, 4, 5),
                  call=lambda layer, x: layer(x, x, use_causal_mask=True,
                                              return_attention_scores=True),
                  group="attention")],
    "AdditiveAttention": [
        LayerCase(layers.AdditiveAttention, rand(2, 4, 3), rand(2, 5, 3),
                  bools(2, 5) | (np.arange(5) == 0),
                  call=lambda layer, q, v, vm: layer([q, v], mask=[None, vm],
                                                     use_causal_mask=True),
                  group="attention")],
}

# Exported names of graphkit.layers that are not layers to run, with why.
NOT_LAYERS = {"InputSpec": "a shape/dtype spec, not a layer",
              "Input": "a function making a KerasTensor (InputLayer is covered)",
              "Wrapper": "an abstract base class with no call() (SpectralNormalization, "
                         "its subclass, is covered)"}

# Exported layers that run eagerly only, with why. They have no compiled twin to compare;
# test_parity_layers checks instead that compiling each one fails with an error saying so.
EAGER_ONLY = {
    "IntegerLookup": (lambda: layers.IntegerLookup(vocabulary=[3, 5, 7]),
                      "its table is a Python dict, looked up on NumPy data"),
    "StringLookup": (lambda: layers.StringLookup(vocabulary=["a", "b"], invert=True),
                     "strings are not graphkit tensors; its table is a Python dict"),
    "Hashing": (lambda: layers.Hashing(num_bins=5),
                "its FarmHash/SipHash hashes are Python code on NumPy data"),
}


def layer_case_ids():
    return [f"{name}#{i}" for name, cases in LAYER_CASES.items() for i in range(len(cases))]


def layer_case(case_id):
    name, i = case_id.rsplit("#", 1)
    return LAYER_CASES[name][int(i)]


@functools.lru_cache(maxsize=None)
def built_layer(case_id):
    """The case's layer, built by one eager call, with random weights."""
    gk.utils.set_random_seed(1)
    case = layer_case(case_id)
    layer = case.make()
    case.call(layer, *[ops.convert_to_tensor(a) for a in case.inputs])
    _random_weights(layer)
    return layer


def layer_grad_fn(case, layer):
    """Like grad_fn, for a layer: gradients w.r.t. the float inputs and trainable weights."""
    where = [i for i, a in enumerate(case.inputs) if _is_float(a)]
    cts = _cotangents(functools.partial(case.call, layer), case.inputs)
    n = len(case.inputs)

    def grads(*args):
        xs, cts_in = list(args[:n]), args[n:]
        with gk.GradientTape() as tape:
            for i in where:
                tape.watch(xs[i])
            total = _weighted_sum(case.call(layer, *xs), cts_in)
        sources = [xs[i] for i in where] + list(layer.trainable_variables)
        return tape.gradient(total, sources, unconnected_gradients="zero")
    return grads, list(case.inputs) + cts


@functools.lru_cache(maxsize=None)
def layer_outcomes(group, mode):
    cases, owners = {}, {}
    for cid in layer_case_ids():
        case = layer_case(cid)
        if case.group != group or (mode == "grad" and not case.grad):
            continue
        layer = owners[cid] = built_layer(cid)
        cases[cid] = layer_grad_fn(case, layer) if mode == "grad" else \
            (functools.partial(case.call, layer), case.inputs)
    return run_batch(cases, owners) if cases else {}
