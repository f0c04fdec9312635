import numpy as np
import pytest

from graphkit import config, ops
from graphkit.ops import reduction
from graphkit.ops.primitive import Aval, ShapeError

RNG = np.random.default_rng(1)
X = RNG.uniform(-2, 2, (3, 4, 5)).astype(np.float32)
X64 = X.astype(np.float64)

AXES = [None, 0, -1, (0, 2), (1,)]


@pytest.mark.parametrize("name,ref", [("sum", np.sum), ("max", np.max), ("min", np.min),
                                      ("prod", np.prod), ("mean", np.mean), ("var", np.var),
                                      ("std", np.std)])
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_match_numpy(name, ref, axis, keepdims):
    out = getattr(ops, name)(X, axis=axis, keepdims=keepdims)
    expected = ref(X64, axis=axis, keepdims=keepdims)
    assert out.shape == expected.shape and out.dtype == "float32"
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,ref", [("argmax", np.argmax), ("argmin", np.argmin)])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_argmax_argmin(name, ref, axis, keepdims):
    out = getattr(ops, name)(X, axis=axis, keepdims=keepdims)
    assert out.dtype == "int32"
    np.testing.assert_array_equal(out.numpy(), ref(X, axis=axis, keepdims=keepdims))


def test_sum_dtypes_follow_keras():
    assert ops.sum(np.array([True, True, False])).dtype == "int32"
    assert int(ops.sum(np.array([True, True, False]))) == 2
    assert ops.sum(np.ones(3, np.int8)).dtype == "int32"
    assert ops.sum(np.ones(3, np.uint8)).dtype == "uint32"
    assert ops.sum(np.ones(3, np.int64)).dtype == "int64"
    assert ops.prod(np.array([2, 3], np.int16)).dtype == "int32"


def test_mean_var_of_ints_in_floatx():
    x = np.array([[1, 2], [3, 5]], np.int32)
    assert ops.mean(x).dtype == config.floatx()
    np.testing.assert_allclose(ops.mean(x, axis=0).numpy(), [2.0, 3.5])
    np.testing.assert_allclose(ops.var(x, axis=1).numpy(), np.var(x, axis=1))


def test_max_of_ints_and_bools():
    x = np.array([[1, 7], [3, -5]], np.int32)
    assert ops.max(x, axis=1).dtype == "int32"
    np.testing.assert_array_equal(ops.max(x, axis=1).numpy(), [7, 3])
    np.testing.assert_array_equal(ops.any(np.array([[0, 1], [0, 0]]), axis=1).numpy(),
                                  [True, False])
    np.testing.assert_array_equal(ops.all(np.array([[1, 1], [0, 1]]), axis=1).numpy(),
                                  [True, False])
    assert ops.all(np.zeros((0,))).numpy() and not ops.any(np.zeros((0,))).numpy()
    assert int(ops.count_nonzero(np.array([0, 1, 2, 0]))) == 2


def test_logsumexp_is_stable_and_matches_numpy():
    x = np.array([[1000.0, 1000.0], [-np.inf, -np.inf], [0.0, 1.0]])
    out = ops.logsumexp(x, axis=1).numpy()
    np.testing.assert_allclose(out[0], 1000 + np.log(2))
    assert out[1] == -np.inf
    np.testing.assert_allclose(out[2], np.log(1 + np.e))
    np.testing.assert_allclose(ops.logsumexp(X64, axis=(0, 1), keepdims=True).numpy(),
                               np.log(np.exp(X64).sum(axis=(0, 1), keepdims=True)))


def test_cumsum_matches_numpy():
    np.testing.assert_allclose(ops.cumsum(X, axis=1).numpy(), np.cumsum(X64, axis=1),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(ops.cumsum(np.array([[1, 2], [3, 4]])).numpy(),
                                  np.cumsum([[1, 2], [3, 4]]))
    assert ops.cumsum(np.array([1, 2], np.int32)).dtype == "int32"


def test_cumsum_propagates_infinities_and_is_exact_for_big_ints():
    x = np.array([1.0, np.inf, 2.0, -np.inf, 3.0, np.nan, 4.0], np.float32)
    np.testing.assert_array_equal(ops.cumsum(x).numpy(), np.cumsum(x))
    y = np.array([1.0, -np.inf, 5.0], np.float32)
    np.testing.assert_array_equal(ops.cumsum(y).numpy(), np.cumsum(y))
    big = np.array([2 ** 60, 1, 1, -(2 ** 61), 3], np.int64)  # not exact through float64
    np.testing.assert_array_equal(ops.cumsum(big).numpy(), np.cumsum(big))
    lengths = np.arange(1, 40, dtype=np.int32)  # every scan depth up to 2^6
    for n in (1, 2, 3, 7, 8, 9, 39):
        np.testing.assert_array_equal(ops.cumsum(lengths[:n]).numpy(), np.cumsum(lengths[:n]))


def test_average_with_weights():
    w = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(ops.average(X64, axis=1, weights=w).numpy(),
                               np.average(X64, axis=1, weights=w))
    np.testing.assert_allclose(ops.average(X64).numpy(), np.average(X64))


def test_initial_and_amax_aliases():
    np.testing.assert_allclose(ops.amax(X, axis=0).numpy(), X.max(0))
    np.testing.assert_allclose(ops.max(np.array([-3.0, -2.0]), initial=0.0).numpy(), 0.0)


def test_axis_errors_name_the_op():
    with pytest.raises(ShapeError, match="sum: axis 3 is out of range for a tensor of rank 3"):
        ops.sum(X, axis=3)
    with pytest.raises(ShapeError, match="mean: repeated axis"):
        ops.mean(X, axis=(0, 0))
    with pytest.raises(ShapeError, match="argmax: axis -4 is out of range"):
        ops.argmax(X, axis=-4)
    with pytest.raises(ShapeError, match="^std: axis 3 is out of range"):  # named var before
        ops.std(X, axis=3)
    with pytest.raises(ShapeError, match="max: cannot reduce over axis 0 of size 0"):
        ops.max(np.zeros((0, 2)), axis=0)


def test_reduction_infer_with_unknown_dims():
    x = Aval((None, 4, None), "float32")
    assert reduction.SUM.infer(x, axis=(1,), keepdims=False) == Aval((None, None), "float32")
    assert reduction.MAX.infer(x, axis=(0, 2), keepdims=True) == Aval((1, 4, 1), "float32")
    assert reduction.ARGMAX.infer(x, axis=2, keepdims=False) == Aval((None, 4), "int32")


def test_float16_statistics_accumulate_in_float32():
    x = np.full((4096,), 60.0, np.float16)  # the float16 sum (245760) overflows
    out = ops.mean(x)
    assert out.dtype == "float16"
    assert float(out) == 60.0
    assert float(ops.var(x)) == 0.0
