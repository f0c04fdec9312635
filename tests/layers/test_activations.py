"""gk.activations against NumPy float64 references, and get/serialize/deserialize."""
import math

import numpy as np
import pytest

import graphkit as gk
from graphkit import activations

_erf = np.vectorize(math.erf)
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


REFERENCES = {
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "softmax": _softmax,
    "gelu": lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2))),
    "silu": lambda x: x * _sigmoid(x),
    "swish": lambda x: x * _sigmoid(x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
    "softplus": _softplus,
    "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
    "linear": lambda x: x,
    "relu6": lambda x: np.clip(x, 0, 6),
    "softsign": lambda x: x / (1 + np.abs(x)),
    "hard_sigmoid": lambda x: np.clip(x + 3, 0, 6) / 6,
    "exponential": np.exp,
    "mish": lambda x: x * np.tanh(_softplus(x)),
    "log_softmax": lambda x: np.log(_softmax(x)),
    # Keras 3's further activations (formulas from its docstrings)
    "celu": lambda x: np.maximum(x, 0) + np.minimum(0, np.expm1(x)),
    "hard_shrink": lambda x: np.where(np.abs(x) > 0.5, x, 0.0),
    "hard_tanh": lambda x: np.clip(x, -1, 1),
    "log_sigmoid": lambda x: -_softplus(-x),
    "soft_shrink": lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0.0)),
    "sparse_plus": lambda x: np.where(x <= -1, 0.0, np.where(x >= 1, x, (x + 1) ** 2 / 4)),
    "sparse_sigmoid": lambda x: np.clip((x + 1) / 2, 0, 1),
    "squareplus": lambda x: (x + np.sqrt(x * x + 4)) / 2,
    "tanh_shrink": lambda x: x - np.tanh(x),
}


@pytest.fixture
def x64():
    rng = np.random.default_rng(0)
    x = rng.normal(scale=3.0, size=(4, 7))
    x[0, :4] = [0.0, -1e-3, 7.5, -7.5]
    return x


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_activation_matches_numpy_float64(name, x64):
    fn = activations.get(name)
    out = fn(gk.ops.convert_to_tensor(x64))
    assert out.dtype == "float64"
    np.testing.assert_allclose(np.asarray(out), REFERENCES[name](x64), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["relu", "gelu", "softmax", "sigmoid", "selu"])
def test_activation_keeps_float32(name, x64):
    out = activations.get(name)(x64.astype("float32"))
    assert out.dtype == "float32"
    np.testing.assert_allclose(np.asarray(out), REFERENCES[name](x64), rtol=1e-5, atol=1e-5)


def test_gelu_string_is_exact_and_approximate_is_tanh(x64):
    exact = np.asarray(activations.get("gelu")(x64))
    approx = np.asarray(activations.gelu(x64, approximate=True))
    tanh_form = 0.5 * x64 * (1 + np.tanh(np.sqrt(2 / np.pi) * (x64 + 0.044715 * x64 ** 3)))
    np.testing.assert_allclose(exact, REFERENCES["gelu"](x64), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(approx, tanh_form, rtol=1e-12, atol=1e-12)
    assert np.abs(exact - approx).max() > 1e-5  # they really are different functions


def test_relu_options_follow_keras(x64):
    out = activations.relu(x64, negative_slope=0.1, max_value=5.0, threshold=1.0)
    expected = np.where(x64 >= 1.0, np.minimum(x64, 5.0), 0.1 * (x64 - 1.0))
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(activations.relu(x64, max_value=2.0)),
                               np.clip(x64, 0, 2.0))
    np.testing.assert_allclose(np.asarray(activations.relu(x64, negative_slope=0.3)),
                               np.where(x64 > 0, x64, 0.3 * x64))
    np.testing.assert_allclose(np.asarray(activations.leaky_relu(x64, negative_slope=0.5)),
                               np.where(x64 > 0, x64, 0.5 * x64))
    np.testing.assert_allclose(np.asarray(activations.elu(x64, alpha=2.0)),
                               np.where(x64 > 0, x64, 2.0 * np.expm1(x64)))


def test_softmax_axis(x64):
    x = x64.reshape(2, 2, 7)
    np.testing.assert_allclose(np.asarray(activations.softmax(x, axis=1)), _softmax(x, axis=1),
                               rtol=1e-12)


@pytest.mark.parametrize("name", ["relu", "gelu", "tanh", "softplus", "silu", "elu", "selu",
                                  "sigmoid", "softmax"])
def test_activation_gradient_matches_finite_differences(name, x64):
    fn = activations.get(name)
    base = x64[1:, :5]  # away from x = 0, where relu and selu have kinks
    x = gk.ops.convert_to_tensor(base)
    weights = np.random.default_rng(1).normal(size=x.shape)
    _, g = gk.value_and_grad(lambda t: gk.ops.sum(gk.ops.multiply(fn(t), weights)))(x)
    eps = 1e-6
    expected = np.zeros_like(base)
    for i in np.ndindex(base.shape):
        up, down = base.copy(), base.copy()
        up[i] += eps
        down[i] -= eps
        expected[i] = (np.sum(REFERENCES[name](up) * weights)
                       - np.sum(REFERENCES[name](down) * weights)) / (2 * eps)
    np.testing.assert_allclose(np.asarray(g), expected, rtol=1e-5, atol=1e-6)


def test_gradients_at_zero_follow_keras():
    # ELU is differentiable at 0 for alpha=1 (derivative 1); Keras (JAX) takes the x <= 0
    # branch there for elu/selu (alpha, scale * alpha) and the x >= 0 one for leaky_relu.
    def grad_at_zero(fn):
        x = gk.Variable(np.zeros(1))
        with gk.GradientTape() as tape:
            y = gk.ops.sum(fn(x))
        return float(np.asarray(tape.gradient(y, x))[0])

    # the one-sided derivatives of elu at 0 are both 1: a central difference agrees
    eps = 1e-6
    central = (np.expm1(-eps) * -1 + eps) / (2 * eps)  # (elu(eps) - elu(-eps)) / 2eps
    assert grad_at_zero(activations.elu) == pytest.approx(central, rel=1e-6)
    assert grad_at_zero(lambda x: activations.elu(x, alpha=0.5)) == pytest.approx(0.5)
    assert grad_at_zero(activations.selu) == pytest.approx(SELU_SCALE * SELU_ALPHA)
    assert grad_at_zero(activations.leaky_relu) == 1.0
    assert grad_at_zero(lambda x: activations.relu(x, negative_slope=0.1)) == 1.0


def test_get_and_serialize():
    assert activations.get(None) is activations.linear
    assert activations.get("swish") is activations.silu
    assert activations.get(activations.tanh) is activations.tanh
    assert activations.serialize(activations.get("relu")) == "relu"
    assert activations.serialize(activations.swish) == "silu"
    assert activations.serialize(None) == "linear"
    for name in activations.ALL_OBJECTS:
        assert activations.deserialize(activations.serialize(activations.get(name))) \
            is activations.get(name)
    assert activations.deserialize(
        {"module": "x", "class_name": "function", "config": "relu", "registered_name": None}
    ) is activations.relu
    assert gk.activations.gelu is activations.gelu


def test_custom_function_uses_custom_objects():
    def scaled(x):
        return x * 2.0
    assert activations.serialize(scaled) == "scaled"
    assert activations.deserialize("scaled", custom_objects={"scaled": scaled}) is scaled


def test_bad_activation_string_suggests_close_match():
    with pytest.raises(ValueError, match=r"Unknown activation: 'rleu'.*Did you mean 'relu'"):
        activations.get("rleu")
    with pytest.raises(ValueError, match="Did you mean 'gelu'"):
        gk.layers.Dense(3, activation="geluu")


def test_bad_identifiers():
    with pytest.raises(ValueError, match="activation function identifier"):
        activations.get(42)
    with pytest.raises(ValueError, match="lambda"):
        activations.serialize(lambda x: x)


def test_keras_activations_with_arguments(x64):
    half = x64[:, :6]
    a, b = half[:, :3], half[:, 3:]
    np.testing.assert_allclose(np.asarray(activations.get("glu")(half)), a * _sigmoid(b),
                               rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(activations.threshold(x64, 1.0, -5.0)),
                                  np.where(x64 > 1.0, x64, -5.0))
    np.testing.assert_allclose(np.asarray(activations.celu(x64, alpha=2.0)),
                               np.maximum(x64, 0) + np.minimum(0, 2.0 * np.expm1(x64 / 2.0)),
                               rtol=1e-12)
    p = np.asarray(activations.get("sparsemax")(x64))
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)  # a distribution
    assert (p >= 0).all() and (p == 0).any()  # with exact zeros, unlike softmax
