"""Native argmax/argmin (graphkit/codegen/reduction.py): the first extremum's index, NaN
first as in NumPy, int32 results, fused into reduction kernels with prologue and epilogue."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import ops
from graphkit.codegen import expr as ex
from graphkit.codegen.elementwise import Operand
from graphkit.codegen.reduction import emit_reduction

from .helpers import call, compile_kernels

RNG = np.random.default_rng(5)


pytestmark = pytest.mark.usefixtures("no_fallback")


def native(fn, *args):
    f = gk.jit(fn)
    exe = f.lower(*args).compile().executable
    assert exe.stats()["interpreted_kernels"] == []
    ops_in_kernels = [m.op for n in exe.graph.nodes if n.op == "kernel" for m in n.body.nodes]
    assert {"argmax", "argmin"} & set(ops_in_kernels), ops_in_kernels
    return [np.asarray(o) for o in gk.tree.flatten(f(*args))]


def ties_and_nans(shape, dtype):
    """Few distinct values (many ties), and NaNs in float data."""
    if dtype == "bool":
        return RNG.random(shape) < 0.3
    x = RNG.integers(-3, 4, shape).astype(dtype)
    if dtype.startswith("float"):
        x[RNG.random(shape) < 0.05] = np.nan
    return x


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "bool"])
@pytest.mark.parametrize("shape,axis", [
    ((37,), 0),            # everything reduced
    ((6, 19), 1),          # innermost axis reduced: vector lanes, then a merge
    ((19, 6), 0),          # innermost axis kept: one output per lane
    ((3, 11, 5), 1),
    ((4, 1), 1),           # a size-1 reduced axis
])
def test_argmax_and_argmin_match_numpy(dtype, shape, axis):
    x = ties_and_nans(shape, dtype)
    got_max, got_min = native(lambda a: (ops.argmax(a, axis=axis), ops.argmin(a, axis=axis)), x)
    for got, want in ((got_max, np.argmax(x, axis=axis)), (got_min, np.argmin(x, axis=axis))):
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, want)


def test_nan_is_found_first_and_infinities_count():
    x = np.array([[1.0, np.nan, 5.0, np.nan], [-np.inf, -np.inf, -np.inf, -np.inf],
                  [np.inf, 2.0, np.inf, -1.0], [np.nan] * 4], np.float32)
    got_max, got_min = native(lambda a: (ops.argmax(a, axis=1), ops.argmin(a, axis=1)), x)
    np.testing.assert_array_equal(got_max, np.argmax(x, axis=1))
    np.testing.assert_array_equal(got_min, np.argmin(x, axis=1))


@pytest.mark.parametrize("dtype", ["int32", "int64", "bool"])
def test_rows_of_the_extreme_representable_values(dtype):
    # no element beats the accumulators' start value: the answer is the first position
    lo, hi = (False, True) if dtype == "bool" else (np.iinfo(dtype).min, np.iinfo(dtype).max)
    x = np.array([[lo] * 21, [hi] * 21, [lo] * 20 + [hi], [hi] * 20 + [lo]], dtype)
    got_max, got_min = native(lambda a: (ops.argmax(a, axis=1), ops.argmin(a, axis=1)), x)
    np.testing.assert_array_equal(got_max, np.argmax(x, axis=1))
    np.testing.assert_array_equal(got_min, np.argmin(x, axis=1))
    got_max, got_min = native(lambda a: (ops.argmax(a, axis=0), ops.argmin(a, axis=0)), x)
    np.testing.assert_array_equal(got_max, np.argmax(x, axis=0))
    np.testing.assert_array_equal(got_min, np.argmin(x, axis=0))


def test_fused_prologue_and_epilogue_accuracy():
    """Accuracy as a metric computes it: argmax of a softmax, compared with the labels."""
    logits = RNG.standard_normal((64, 10)).astype(np.float32)
    labels = RNG.integers(0, 10, 64).astype(np.int32)

    def accuracy(z, y):
        pred = ops.argmax(ops.softmax(z * 2.0, axis=-1), axis=-1)
        return ops.mean(ops.cast(ops.equal(pred, y), "float32"))

    (got,) = native(accuracy, logits, labels)
    assert got == np.float32(np.mean(np.argmax(logits, -1) == labels))


def test_keepdims_and_a_flattened_argmin():
    x = ties_and_nans((5, 4, 3), "float32")
    got_k, got_flat = native(lambda a: (ops.argmax(a, axis=2, keepdims=True),
                                        ops.argmin(a)), x)
    np.testing.assert_array_equal(got_k, np.argmax(x, axis=2, keepdims=True))
    np.testing.assert_array_equal(got_flat, np.argmin(x))


def test_big_inputs_split_across_threads():
    x = RNG.standard_normal((300, 500)).astype(np.float32)
    x[::7, ::11] = x.max()              # ties between a row's maxima: the first must win
    got_rows, got_cols = native(lambda a: (ops.argmax(a, axis=1), ops.argmin(a, axis=0)), x)
    np.testing.assert_array_equal(got_rows, np.argmax(x, axis=1))
    np.testing.assert_array_equal(got_cols, np.argmin(x, axis=0))


def test_emitter_int64_index_with_a_strided_operand():
    """emit_reduction directly: argmax over axis 0 of a transposed view, int64 indices."""
    x = ties_and_nans((7, 9), "float64")
    fns, _ = compile_kernels({"am": lambda m, n: emit_reduction(
        m, n, [Operand((9, 7), "float64", strides=(1, 9))], ex.input(0, "float64"),
        (9, 7), (1,), "argmax", index_dtype="int64")})
    out = np.full(9, -1, np.int64)
    call(fns["am"], [x, out])
    np.testing.assert_array_equal(out, np.argmax(x.T, axis=1))


def test_argmax_needs_exactly_one_axis():
    with pytest.raises(ValueError, match="argmax reduces exactly one axis"):
        compile_kernels({"bad": lambda m, n: emit_reduction(
            m, n, [Operand((3, 4), "float32")], ex.input(0, "float32"), (3, 4), (0, 1),
            "argmax")})
