"""Native sorting kernels (graphkit/codegen/sorting.py) give the eager kernels' results bit
for bit: argsort (stable; descending ties in index order; NaNs last ascending and first
descending; -0.0 == 0.0; any axis; many rows threaded), top_k / in_top_k through gk.jit,
and random_permutation / gk.random.shuffle for several keys and sizes."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import ops
from graphkit.codegen import parallel
from graphkit.codegen.sorting import _Rows
from graphkit.ops.primitive import bind
from graphkit.ops.random import RANDOM_PERMUTATION, philox_stream
from graphkit.ops.sorting import ARGSORT

from .helpers import assert_same, native_outputs as native

RNG = np.random.default_rng(5)
SPECIALS = (np.nan, -0.0, 0.0, np.inf, -np.inf)


pytestmark = pytest.mark.usefixtures("no_fallback")


def tied_data(shape, dtype):
    """Few distinct values (many ties); floats also get NaN, +-0.0 and +-inf."""
    if dtype == "bool":
        return RNG.random(shape) < 0.5
    x = RNG.integers(-3, 4, shape).astype(dtype)
    if dtype == "int64":   # keys beyond 32 bits, still with ties
        x = x * np.int64(2 ** 40) + RNG.integers(0, 2, shape)
    if dtype.startswith("float"):
        flat = x.reshape(-1)
        spots = RNG.choice(flat.size, size=flat.size // 3, replace=False)
        flat[spots] = RNG.choice(SPECIALS, size=spots.size)
    return x


@pytest.mark.parametrize("dtype,shape,axis", [
    ("float32", (6, 37), 1),       # last axis: contiguous rows, odd length
    ("float32", (5, 4, 3), 1),     # a middle axis: strided rows
    ("float64", (19, 3), 0),       # the first axis, 64-bit keys
    ("int32", (4, 50), 1),
    ("int64", (3, 2, 40), 2),      # keys above 2**32
    ("float16", (7, 9), 1),
    ("bool", (3, 33), 1),
])
def test_argsort_both_directions_match_eager(dtype, shape, axis):
    x = tied_data(shape, dtype)
    got = native(lambda t: (bind(ARGSORT, t, axis=axis, descending=False),
                            bind(ARGSORT, t, axis=axis, descending=True)), x, kind="opaque")
    assert_same(got[0], ARGSORT.eager(x, axis=axis, descending=False))
    assert_same(got[1], ARGSORT.eager(x, axis=axis, descending=True))
    assert_same(got[0], np.argsort(x, axis=axis, kind="stable").astype(np.int32))


def test_nan_and_signed_zero_order():
    """NaNs last (first descending), -0.0 tied with 0.0, ties in index order."""
    x = np.array([[np.nan, 0.0, -0.0, 1.0, -np.inf, np.nan, -0.0, np.inf, -1.0]], "float32")
    up, down = native(lambda t: (bind(ARGSORT, t, axis=1, descending=False),
                                 bind(ARGSORT, t, axis=1, descending=True)), x, kind="opaque")
    assert up.tolist() == [[4, 8, 1, 2, 6, 3, 7, 0, 5]]
    assert down.tolist() == [[0, 5, 7, 3, 1, 2, 6, 8, 4]]


def test_many_long_rows_run_threaded_and_match():
    shape = (24, 1500)
    rows = _Rows(shape[0], shape[1], 1, 32)
    assert rows.threads() == parallel.num_threads()   # the threaded form is emitted
    x = tied_data(shape, "float32")
    (got,) = native(lambda t: bind(ARGSORT, t, axis=1, descending=True), x, kind="opaque")
    assert_same(got, ARGSORT.eager(x, axis=1, descending=True))


def test_one_long_row_through_sort():
    x = RNG.standard_normal(5001).astype("float64")
    x[::7] = x[3]   # ties far apart, merged across many passes
    s, idx = native(lambda t: (ops.sort(t), ops.argsort(t)), x, kind="opaque")
    assert_same(idx, np.argsort(x, kind="stable").astype(np.int32))
    assert_same(s, np.sort(x, kind="stable"))


def test_top_k_and_in_top_k_end_to_end():
    logits = tied_data((32, 10), "float32")
    logits[np.isnan(logits)] = 2.0   # TF/NumPy disagree on NaN in in_top_k: keep it out
    targets = RNG.integers(0, 10, (32,)).astype("int32")

    def fn(p, t):
        values, indices = ops.top_k(p, 3)
        return values, indices, ops.in_top_k(t, p, 3)
    got = native(fn, logits, targets, kind="opaque")
    want = [np.asarray(v) for v in gk.tree.flatten(fn(logits, targets))]
    for g, w in zip(got, want):
        assert_same(g, w)
    order = np.argsort(-logits, axis=-1, kind="stable")[:, :3]
    assert_same(got[1], order.astype(np.int32))


def test_random_permutation_bit_identical():
    sizes = (1, 3, 4, 5, 257, 4099)
    fn = lambda k: tuple(bind(RANDOM_PERMUTATION, k, n=n) for n in sizes)  # noqa: E731
    for key in ([0, 0], [1, 2], [0xFFFFFFFF, 12345]):
        key = np.array(key, np.uint32)
        got = native(fn, key, kind="random")
        for n, g in zip(sizes, got):
            assert_same(g, np.argsort(philox_stream(key, n), kind="stable").astype(np.int32))
            assert sorted(g.tolist()) == list(range(n))


def test_shuffle_end_to_end():
    """A SeedGenerator's stream: the compiled step draws the same permutations as eager."""
    x = np.arange(300 * 2, dtype="float32").reshape(300, 2)
    compiled_seed, eager_seed = gk.random.SeedGenerator(7), gk.random.SeedGenerator(7)
    fn = lambda t: gk.random.shuffle(t, seed=compiled_seed)  # noqa: E731
    first = native(fn, x, kind="random")[0]
    second = np.asarray(gk.jit(fn)(x))
    assert_same(first, np.asarray(gk.random.shuffle(x, seed=eager_seed)))
    assert_same(second, np.asarray(gk.random.shuffle(x, seed=eager_seed)))
    assert not np.array_equal(first, x) and not np.array_equal(first, second)
