import math

import numpy as np
import pytest

import graphkit as gk
from graphkit import config, ops
from graphkit.ops.primitive import Aval, ShapeError
from graphkit.ops import elementwise as ew

RNG = np.random.default_rng(0)


def f32(*shape, lo=-2.0, hi=2.0):
    return RNG.uniform(lo, hi, shape).astype(np.float32)


UNARY = [
    ("negative", np.negative, {}),
    ("exp", np.exp, {}),
    ("expm1", np.expm1, {}),
    ("log", np.log, {"lo": 0.1}),
    ("log1p", np.log1p, {"lo": -0.5}),
    ("log2", np.log2, {"lo": 0.1}),
    ("log10", np.log10, {"lo": 0.1}),
    ("sqrt", np.sqrt, {"lo": 0.0}),
    ("rsqrt", lambda x: 1 / np.sqrt(x), {"lo": 0.1}),
    ("square", np.square, {}),
    ("reciprocal", np.reciprocal, {"lo": 0.5}),
    ("tanh", np.tanh, {}),
    ("sin", np.sin, {}),
    ("cos", np.cos, {}),
    ("tan", np.tan, {"lo": -1.0, "hi": 1.0}),
    ("sinh", np.sinh, {}),
    ("cosh", np.cosh, {}),
    ("abs", np.abs, {}),
    ("sign", np.sign, {}),
    ("floor", np.floor, {}),
    ("ceil", np.ceil, {}),
    ("round", np.round, {}),
    ("sigmoid", lambda x: 1 / (1 + np.exp(-x)), {}),
    ("erf", np.vectorize(math.erf), {}),
]


@pytest.mark.parametrize("name,ref,rng", UNARY, ids=[u[0] for u in UNARY])
def test_unary_matches_numpy_float64(name, ref, rng):
    x = f32(3, 4, lo=rng.get("lo", -2.0), hi=rng.get("hi", 2.0))
    out = getattr(ops, name)(x)
    assert out.dtype == "float32" and out.shape == (3, 4)
    np.testing.assert_allclose(out.numpy(), ref(x.astype(np.float64)), rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "tanh", "sigmoid", "erf", "sin",
                                  "floor", "ceil", "log1p"])
def test_float_ops_of_ints_compute_in_floatx(name):
    out = getattr(ops, name)(np.array([1, 2, 3], dtype=np.int32))
    assert out.dtype == config.floatx()
    config.set_floatx("float64")
    try:
        assert getattr(ops, name)(np.array([1, 2], dtype=np.int32)).dtype == "float64"
    finally:
        config.set_floatx("float32")


def test_sigmoid_is_stable_for_large_inputs():
    x = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0], np.float32)
    out = ops.sigmoid(x).numpy()
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, [0, 1 / (1 + np.exp(30.0)), 0.5, 1 / (1 + np.exp(-30.0)), 1],
                               rtol=1e-6)


BINARY = [
    ("add", np.add), ("subtract", np.subtract), ("multiply", np.multiply),
    ("divide", np.divide), ("maximum", np.maximum), ("minimum", np.minimum),
    ("power", np.power), ("floor_divide", np.floor_divide), ("mod", np.mod),
]


@pytest.mark.parametrize("name,ref", BINARY, ids=[b[0] for b in BINARY])
def test_binary_broadcasting_matches_numpy(name, ref):
    a = f32(2, 1, 4, lo=0.5, hi=3.0)
    b = f32(3, 1, lo=0.5, hi=3.0)
    out = getattr(ops, name)(a, b)
    assert out.shape == (2, 3, 4) and out.dtype == "float32"
    np.testing.assert_allclose(out.numpy(), ref(a.astype(np.float64), b.astype(np.float64)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,ref", [("add", np.add), ("multiply", np.multiply),
                                      ("floor_divide", np.floor_divide), ("mod", np.mod),
                                      ("maximum", np.maximum), ("power", np.power)])
def test_int_binary_ops_stay_int(name, ref):
    a = np.array([[7, -3, 4]], np.int32)
    b = np.array([[2], [3]], np.int32)
    out = getattr(ops, name)(a, b)
    assert out.dtype == "int32"
    np.testing.assert_array_equal(out.numpy(), ref(a, b))


def test_divide_ints_gives_floatx():
    out = ops.divide(np.array([1, 2], np.int32), 2)
    assert out.dtype == "float32"
    np.testing.assert_allclose(out.numpy(), [0.5, 1.0])


def test_weak_scalars_keep_tensor_dtype():
    x16 = np.ones(3, np.float16)
    assert ops.multiply(x16, 2.0).dtype == "float16"
    assert ops.add(np.ones(3, np.int8), 3).dtype == "int8"
    assert ops.add(np.ones(3, np.int32), 1.5).dtype == "float32"
    assert ops.add(2.0, np.ones(3, np.float64)).dtype == "float64"
    assert ops.add(np.array([True]), 1).dtype == "int32"
    assert ops.less(np.ones(3, np.float16), 1.5).dtype == "bool"


def test_strong_dtypes_promote():
    assert ops.add(np.ones(2, np.float32), np.ones(2, np.float64)).dtype == "float64"
    assert ops.add(np.ones(2, np.int32), np.ones(2, np.float16)).dtype == "float16"
    assert ops.add(np.ones(2, np.int8), np.ones(2, np.int32)).dtype == "int32"


COMPARISONS = [("equal", np.equal), ("not_equal", np.not_equal), ("less", np.less),
               ("less_equal", np.less_equal), ("greater", np.greater),
               ("greater_equal", np.greater_equal)]


@pytest.mark.parametrize("name,ref", COMPARISONS, ids=[c[0] for c in COMPARISONS])
def test_comparisons(name, ref):
    a = np.array([[1, 2, 3]], np.int32)
    b = np.array([[2], [3]], np.int32)
    out = getattr(ops, name)(a, b)
    assert out.dtype == "bool"
    np.testing.assert_array_equal(out.numpy(), ref(a, b))
    np.testing.assert_array_equal(getattr(ops, name)(a, 2.5).numpy(), ref(a, 2.5))


def test_logical_ops_cast_to_bool():
    a = np.array([0, 1, 2, 0])
    b = np.array([True, True, False, False])
    np.testing.assert_array_equal(ops.logical_and(a, b).numpy(), np.logical_and(a, b))
    np.testing.assert_array_equal(ops.logical_or(a, b).numpy(), np.logical_or(a, b))
    np.testing.assert_array_equal(ops.logical_xor(a, b).numpy(), np.logical_xor(a, b))
    np.testing.assert_array_equal(ops.logical_not(a).numpy(), np.logical_not(a))
    assert ops.logical_not(a).dtype == "bool"


def test_operators_route_through_ops():
    x = ops.convert_to_tensor(np.array([1.0, -2.0, 3.0], np.float32))
    np.testing.assert_allclose((x // 2).numpy(), [0.0, -1.0, 1.0])
    np.testing.assert_allclose((x % 2).numpy(), [1.0, 0.0, 1.0])
    np.testing.assert_allclose((2 ** x).numpy(), [2.0, 0.25, 8.0])
    np.testing.assert_array_equal(((x > 0) ^ (x > 2)).numpy(), [True, False, False])
    np.testing.assert_allclose(abs(x).numpy(), [1.0, 2.0, 3.0])


def test_where_broadcasts_and_uses_weak_scalars():
    c = np.array([True, False, True])
    x = f32(2, 3)
    out = ops.where(c, x, 0)
    assert out.dtype == "float32"
    np.testing.assert_array_equal(out.numpy(), np.where(c, x, 0))
    out = ops.where(np.array([[1], [0]]), np.array([1, 2, 3], np.int32), -1)
    np.testing.assert_array_equal(out.numpy(), [[1, 2, 3], [-1, -1, -1]])


def test_where_one_argument_is_refused():
    with pytest.raises(ValueError, match="where: x1 and x2 are required"):
        ops.where(np.array([True]))


def test_clip_and_nan_handling():
    x = np.array([-3.0, 0.5, 7.0, np.nan, np.inf], np.float32)
    np.testing.assert_array_equal(ops.clip(x[:3], 0, 6).numpy(), [0.0, 0.5, 6.0])
    assert ops.clip(np.array([True, False]), 0, 1).dtype == "int32"
    np.testing.assert_array_equal(ops.isnan(x).numpy(), np.isnan(x))
    np.testing.assert_array_equal(ops.isinf(x).numpy(), np.isinf(x))
    np.testing.assert_array_equal(ops.isfinite(x).numpy(), np.isfinite(x))
    np.testing.assert_array_equal(ops.nan_to_num(x).numpy(), np.nan_to_num(x))
    np.testing.assert_array_equal(ops.isnan(np.array([1, 2])).numpy(), [False, False])


def test_round_half_to_even_and_decimals():
    x = np.array([0.5, 1.5, 2.5, -0.5, 1.2345], np.float64)
    np.testing.assert_array_equal(ops.round(x).numpy(), np.round(x))
    np.testing.assert_allclose(ops.round(x, 2).numpy(), np.round(x, 2))
    ints = np.array([15, 25, -25, 26], np.int32)
    np.testing.assert_array_equal(ops.round(ints, -1).numpy(), np.round(ints, -1))


def test_cast_and_abs_sign_of_ints_and_bools():
    assert ops.cast(np.array([1.7, -1.2]), "int32").numpy().tolist() == [1, -1]
    np.testing.assert_array_equal(ops.abs(np.array([-2, 3], np.int8)).numpy(), [2, 3])
    assert ops.abs(np.array([-2, 3], np.int8)).dtype == "int8"
    np.testing.assert_array_equal(ops.sign(np.array([-2, 0, 3])).numpy(), [-1, 0, 1])
    assert ops.abs(np.array([True])).dtype == "bool"


FLOAT_TO_INT_SPECIALS = [np.nan, np.inf, -np.inf, 3e9, -3e9, 1e20, -1e20, 300.0, -300.0,
                         70000.0, -70000.0, 2.7, -2.7, -0.5, 0.0, -0.0, 127.9, 128.0, 255.5]


def _saturating_reference(x, dtype):
    """Float -> int as XLA and LLVM's fptosi.sat define it, computed in float64."""
    info = np.iinfo(dtype)
    x = x.astype(np.float64)
    out = np.where(np.isnan(x), 0.0, np.trunc(np.clip(x, -2.0 ** 70, 2.0 ** 70)))
    out = [info.min if v < info.min else info.max if v > info.max else int(v) for v in out]
    return np.array(out, dtype=dtype)


@pytest.mark.parametrize("src", ["float16", "float32", "float64"])
@pytest.mark.parametrize("dst", ["int8", "uint8", "int16", "uint16", "int32", "uint32",
                                 "int64", "uint64"])
def test_float_to_int_cast_saturates(src, dst):
    with np.errstate(over="ignore"):
        x = np.array(FLOAT_TO_INT_SPECIALS, dtype=src)  # 1e20 is inf in float16
    got = ops.cast(x, dst).numpy()
    assert got.dtype == np.dtype(dst)
    np.testing.assert_array_equal(got, _saturating_reference(x, dst))


def test_float_to_int_cast_in_range_is_truncation():
    x = f32(1000, lo=-100.0, hi=100.0)
    np.testing.assert_array_equal(ops.cast(x, "int32").numpy(), np.trunc(x).astype(np.int32))


def test_binary_infer_broadcasts_unknown_dims():
    out = ew.ADD.infer(Aval((None, 1, 4), "float32"), Aval((3, 1), "float32"))
    assert out == Aval((None, 3, 4), "float32")
    out = ew.LESS.infer(Aval((None, 4), "float32"), Aval((None, 1), "float32"))
    assert out == Aval((None, 4), "bool")


def test_binary_infer_rejects_incompatible_shapes_naming_the_op():
    with pytest.raises(ShapeError, match=r"add: shapes \(2, 3\), \(4,\) cannot be broadcast"):
        ops.add(np.ones((2, 3)), np.ones(4))
    with pytest.raises(ShapeError, match="where"):
        ew.WHERE.infer(Aval((2,), "bool"), Aval((3,), "float32"), Aval((3,), "float32"))


def test_ufunc_on_tensor_goes_through_ops():
    x = ops.convert_to_tensor(np.array([1.0, 2.0], np.float32))
    with gk.GradientTape() as tape:
        tape.watch(x)
        y = np.exp(x)
    assert isinstance(y, gk.Tensor)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), np.exp([1.0, 2.0]), rtol=1e-6)


def test_logaddexp_divide_no_nan_isclose_select():
    a = np.array([1000.0, -3.0, 0.5])
    b = np.array([1000.0, 2.0, -np.inf])
    np.testing.assert_allclose(ops.logaddexp(a, b).numpy(), np.logaddexp(a, b))
    out = ops.divide_no_nan(np.array([1.0, 2.0, 0.0]), np.array([0.0, 4.0, 0.0]))
    np.testing.assert_array_equal(out.numpy(), [0.0, 0.5, 0.0])
    x = ops.convert_to_tensor(np.array([1.0, 2.0]))
    with gk.GradientTape() as tape:
        tape.watch(x)
        y = ops.divide_no_nan(x, np.array([0.0, 4.0]))
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [0.0, 0.25])
    p, q = np.array([1.0, 2.0, np.nan, np.inf]), np.array([1.0 + 1e-9, 2.1, np.nan, np.inf])
    np.testing.assert_array_equal(ops.isclose(p, q).numpy(), np.isclose(p, q))
    np.testing.assert_array_equal(ops.isclose(p, q, equal_nan=True).numpy(),
                                  np.isclose(p, q, equal_nan=True))
    conds = [np.array([True, False, False]), np.array([True, True, False])]
    np.testing.assert_array_equal(ops.select(conds, [1, 2], 9).numpy(),
                                  np.select(conds, [1, 2], 9))


def test_round_ints_with_negative_decimals_rounds_half_to_even():
    x = np.array([25, 15, 35, -25, -15, 24, 26, 150, 250], "int32")
    for decimals in (-1, -2):
        np.testing.assert_array_equal(ops.round(x, decimals).numpy(), np.round(x, decimals))


def test_clip_with_a_bound_of_none():
    x = np.array([1.0, 5.0], "float32")
    np.testing.assert_array_equal(ops.clip(x, None, 2.0).numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(ops.clip(x, 2.0, None).numpy(), [2.0, 5.0])
