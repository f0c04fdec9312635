"""Dot (and `dot`) against NumPy float64 references."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers
from tests.layers.layer_checks import assert_config_roundtrip, check_compiled_predict

BASE_KEYS = {"name", "trainable", "dtype"}


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def _unit(x, axis):
    return x / np.linalg.norm(x, axis=axis, keepdims=True)


# (shape of x, shape of y, axes, reference of the per-sample product)
CASES = [
    ((3, 4), (3, 4), -1, lambda x, y: (x * y).sum(-1, keepdims=True)),
    ((2, 3, 5), (2, 4, 3), (1, 2), lambda x, y: np.einsum("bip,bqi->bpq", x, y)),
    ((2, 3, 5), (2, 3, 4), 1, lambda x, y: np.einsum("bip,biq->bpq", x, y)),
    ((2, 5), (2, 3, 5), (1, 2), lambda x, y: np.einsum("bi,bqi->bq", x, y)),
    ((2, 3, 5), (2, 5), [2, 1], lambda x, y: np.einsum("bpi,bi->bp", x, y)),
    ((2, 3, 4, 5), (2, 5, 6), (3, 1), lambda x, y: np.einsum("bpqi,bir->bpqr", x, y)),
]


@pytest.mark.parametrize("shape1, shape2, axes, reference", CASES)
def test_dot_matches_numpy(shape1, shape2, axes, reference):
    x, y = _x(shape1), _x(shape2, 1)
    out = layers.Dot(axes, dtype="float64")([x, y])
    np.testing.assert_allclose(np.asarray(out), reference(x, y), rtol=1e-12, atol=1e-12)
    assert layers.Dot(axes).compute_output_shape([shape1, shape2]) == out.shape


@pytest.mark.parametrize("shape1, shape2, axes, reference", CASES[:3])
def test_normalize_gives_the_cosine_proximity(shape1, shape2, axes, reference):
    x, y = _x(shape1), _x(shape2, 1)
    a1, a2 = (axes, axes) if isinstance(axes, int) else axes
    out = layers.dot([x, y], axes=axes, normalize=True, dtype="float64")
    np.testing.assert_allclose(np.asarray(out), reference(_unit(x, a1), _unit(y, a2)),
                               rtol=1e-12, atol=1e-12)


def test_gradients_with_respect_to_both_inputs():
    x, y = _x((2, 3, 4)), _x((2, 3, 5), 1)
    cotangent = _x((2, 4, 5), 2)
    tx, ty = gk.ops.convert_to_tensor(x), gk.ops.convert_to_tensor(y)
    with gk.GradientTape() as tape:
        tape.watch(tx)
        tape.watch(ty)
        out = layers.Dot(1, dtype="float64")([tx, ty])
        loss = gk.ops.sum(gk.ops.multiply(out, cotangent))
    gx, gy = tape.gradient(loss, [tx, ty])
    np.testing.assert_allclose(np.asarray(gx), np.einsum("bpq,biq->bip", cotangent, y),
                               rtol=1e-12)
    np.testing.assert_allclose(np.asarray(gy), np.einsum("bpq,bip->biq", cotangent, x),
                               rtol=1e-12)


def test_symbolic_shapes_and_no_output_mask():
    a, b = gk.Input((None, 5)), gk.Input((None, 5))
    assert layers.dot([a, b], axes=2).shape == (None, None, None)
    assert layers.Dot((1, 1))([a, b]).shape == (None, 5, 5)
    layer = layers.Dot(-1)
    mask = np.ones((2, 3), bool)
    assert layer.compute_mask([_x((2, 3, 4))] * 2, [mask, mask]) is None


@pytest.mark.parametrize("axes, error, match", [
    ("last", TypeError, "'d'.*`axes`.*'last'"),
    ((1, 2, 3), ValueError, "'d'.*pair of ints"),
    ((1, 2.0), ValueError, "'d'.*pair of ints"),
])
def test_bad_axes_are_rejected(axes, error, match):
    with pytest.raises(error, match=match):
        layers.Dot(axes, name="d")


def test_input_errors_name_the_layer():
    x = _x((2, 3, 4))
    with pytest.raises(ValueError, match="'d'.*list of 2 inputs"):
        layers.Dot(1, name="d")([x, x, x])
    with pytest.raises(ValueError, match="'d'.*same size.*size 3 at axis 1"):
        layers.Dot(1, name="d").build([(2, 3, 4), (2, 4, 3)])
    with pytest.raises(ValueError, match="'d'.*batch axis"):
        layers.Dot(0, name="d").build([(2, 3), (2, 3)])
    with pytest.raises(ValueError, match="'d'.*out of range"):
        layers.Dot((1, 3), name="d").build([(2, 3), (2, 3)])
    with pytest.raises(ValueError, match="'d'.*different batch sizes"):
        layers.Dot(1, name="d").build([(2, 3), (4, 3)])


def test_config_roundtrip():
    clone = assert_config_roundtrip(layers.Dot((1, 2), normalize=True),
                                    BASE_KEYS | {"axes", "normalize"})
    assert (clone.axes, clone.normalize) == ([1, 2], True)
    assert assert_config_roundtrip(layers.Dot(-1)).axes == -1


def test_compiled_model_predicts_like_eager():
    a, b = gk.Input((3, 4)), gk.Input((5, 4))
    model = gk.Model([a, b], [layers.Dot(2)([a, b]), layers.dot([a, b], 2, normalize=True)])
    check_compiled_predict(model, [_x((2, 3, 4)).astype("float32"),
                                   _x((2, 5, 4), 1).astype("float32")])
