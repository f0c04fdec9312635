"""ReLU, LeakyReLU, ELU, PReLU and Softmax layers against NumPy float64 formulas (Keras 3's
definitions), their configs, masks and argument errors."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers
from tests.layers.layer_checks import assert_config_roundtrip, check_weight_grads

BASE_KEYS = {"name", "trainable", "dtype"}
F64 = "float64"  # layers compute in float64, so the formulas compare to 1e-12


def _x(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape) * 2.0


def _relu(x, max_value=None, negative_slope=0.0, threshold=0.0):
    y = np.where(x >= threshold, x, negative_slope * (x - threshold))
    return y if max_value is None else np.where(x >= max_value, max_value, y)


@pytest.mark.parametrize("kwargs", [{}, {"max_value": 1.5}, {"negative_slope": 0.1},
                                    {"max_value": 2.0, "negative_slope": 0.2,
                                     "threshold": 0.5}])
def test_relu_layer_matches_keras_formula(kwargs):
    x = _x(3, 7)
    layer = layers.ReLU(**kwargs, dtype=F64)
    np.testing.assert_allclose(np.asarray(layer(x)), _relu(x, **kwargs), rtol=1e-12)
    clone = assert_config_roundtrip(layer, BASE_KEYS | {"max_value", "negative_slope",
                                                        "threshold"})
    np.testing.assert_allclose(np.asarray(clone(x)), _relu(x, **kwargs), rtol=1e-12)


@pytest.mark.parametrize("arg", ["max_value", "negative_slope", "threshold"])
def test_relu_layer_refuses_negative_arguments(arg):
    with pytest.raises(ValueError, match=rf"ReLU 're_lu.*'.*`{arg}`.*{arg}=-1"):
        layers.ReLU(**{arg: -1})


def test_leaky_relu_layer_default_slope_is_keras_0_3():
    x = _x(4, 5)
    np.testing.assert_allclose(np.asarray(layers.LeakyReLU(dtype=F64)(x)), np.where(x >= 0, x, 0.3 * x))
    with pytest.warns(UserWarning, match="alpha.*deprecated"):
        layer = layers.LeakyReLU(alpha=0.1, dtype=F64)
    np.testing.assert_allclose(np.asarray(layer(x)), np.where(x >= 0, x, 0.1 * x))
    assert assert_config_roundtrip(layer).negative_slope == 0.1
    with pytest.raises(ValueError, match="negative_slope"):
        layers.LeakyReLU(negative_slope=None)


def test_elu_layer():
    x = _x(4, 5)
    layer = layers.ELU(alpha=0.7, dtype=F64)
    np.testing.assert_allclose(np.asarray(layer(x)), np.where(x > 0, x, 0.7 * np.expm1(x)),
                               rtol=1e-12)
    assert assert_config_roundtrip(layer).alpha == 0.7


def test_prelu_learns_one_slope_per_unshared_element():
    x = _x(2, 3, 4, 5)
    layer = layers.PReLU(shared_axes=[1, 2], dtype=F64)
    layer.build(x.shape)
    assert [tuple(w.shape) for w in layer.weights] == [(1, 1, 5)]
    assert layer.weights[0].path.endswith("alpha")
    alpha = np.random.default_rng(1).normal(size=(1, 1, 5))
    layer.set_weights([alpha])
    np.testing.assert_allclose(np.asarray(layer(x)), np.where(x > 0, x, alpha * x),
                               rtol=1e-12)
    check_weight_grads(layer, x, _x(2, 3, 4, 5, seed=2))
    config = assert_config_roundtrip(layer).get_config()
    assert config["shared_axes"] == [1, 2]
    assert config["alpha_initializer"]["class_name"] == "Zeros"


def test_prelu_checks_its_axes():
    with pytest.raises(ValueError, match=r"PReLU .*shared_axes.*batch"):
        layers.PReLU(shared_axes=0)
    layer = layers.PReLU()
    layer(np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match=r"p_re_lu.*expected axis 1 .* value 3"):
        layer(np.ones((2, 4), "float32"))  # alpha has 3 slopes
    with pytest.raises(ValueError, match="unshared axes need known sizes"):
        layers.PReLU()(gk.Input((None, 3)))
    assert layers.PReLU(shared_axes=1)(gk.Input((None, 3))).shape == (None, None, 3)


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("axis", [-1, 1, [1, 2]])
def test_softmax_layer_over_one_or_several_axes(axis):
    x = _x(2, 3, 4)
    layer = layers.Softmax(axis=axis, dtype=F64)
    np_axis = tuple(axis) if isinstance(axis, list) else axis
    np.testing.assert_allclose(np.asarray(layer(x)), _softmax(x, np_axis), rtol=1e-12)
    assert assert_config_roundtrip(layer).axis == axis


def test_softmax_layer_mask_gives_masked_positions_zero_probability():
    x = _x(3, 4)
    mask = np.array([[1, 1, 0, 1], [0, 0, 0, 0], [1, 0, 1, 1]], bool)
    expected = np.zeros_like(x)
    for row in range(3):
        kept = mask[row]
        if kept.any():
            expected[row, kept] = _softmax(x[row, kept], -1)
    y = layers.Softmax(dtype=F64)(x, mask=mask)
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-12, atol=1e-300)
    # A float mask counts above 0.5; a mask of lower rank broadcasts from the right.
    y2 = layers.Softmax(dtype=F64)(x, mask=mask.astype("float32") * 0.9)
    np.testing.assert_allclose(np.asarray(y2), expected, rtol=1e-12, atol=1e-300)
    col = np.array([True, False, True, True])
    y3 = layers.Softmax(dtype=F64)(x, mask=col)
    np.testing.assert_allclose(np.asarray(y3)[:, 1], 0.0)
    np.testing.assert_allclose(np.asarray(y3)[:, col], _softmax(x[:, col], -1), rtol=1e-12)
    with pytest.raises(ValueError, match=r"Softmax 'softmax.*'.*mask must broadcast"):
        layers.Softmax()(x, mask=np.ones((3, 3), bool))


def test_softmax_masked_in_float16_is_finite():
    x = _x(2, 4).astype("float16")
    y = layers.Softmax(dtype="float16")(x, mask=np.zeros((2, 4), bool))
    assert np.asarray(y).dtype == np.float16
    np.testing.assert_array_equal(np.asarray(y), 0.0)


def test_activation_layers_in_a_functional_model_compile_like_eager():
    inputs = gk.Input((6,))
    h = layers.Dense(8)(inputs)
    h = layers.PReLU()(layers.LeakyReLU(0.1)(h))
    h = layers.ELU()(layers.ReLU(max_value=3.0)(h))
    outputs = layers.Softmax()(layers.Dense(4)(h))
    model = gk.Model(inputs, outputs)
    x = _x(5, 6).astype("float32")
    eager = model.predict(x, verbose=0)
    model.compile(loss="mse", jit_compile=True)
    report = gk.debugging.compare(lambda a: model(a), x)
    assert report.max_rel_error <= 1e-5, report
    np.testing.assert_allclose(model.predict(x, verbose=0), eager, rtol=1e-5)


def test_softmax_axis_out_of_range_names_the_layer():
    with pytest.raises(ValueError, match=r"Softmax 'softmax.*'.*rank 2. Received: axis=2"):
        layers.Softmax(axis=2)(np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match=r"Softmax .*axis=\[1, 3\]"):
        layers.Softmax(axis=[1, 3])(np.ones((2, 3, 4), "float32"))
