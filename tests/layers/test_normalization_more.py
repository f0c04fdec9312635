"""GroupNormalization and UnitNormalization against NumPy float64 references."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers
from tests.layers.layer_checks import (assert_config_roundtrip, check_compiled_predict,
                                       check_weight_grads)

BASE_KEYS = {"name", "trainable", "dtype"}
GROUP_KEYS = BASE_KEYS | {"groups", "axis", "epsilon", "center", "scale", "beta_initializer",
                          "gamma_initializer", "beta_regularizer", "gamma_regularizer",
                          "beta_constraint", "gamma_constraint"}


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape) * 2.0 + 0.5


def _group_norm_ref(x, groups, axis, gamma, beta, epsilon=1e-3):
    """Channels of `axis` split into `groups`; statistics over each group and every other
    non-batch axis."""
    x = np.moveaxis(x, axis, -1)
    grouped = x.reshape(*x.shape[:-1], groups, x.shape[-1] // groups)
    reduce = tuple(range(1, grouped.ndim - 2)) + (grouped.ndim - 1,)
    mean = grouped.mean(axis=reduce, keepdims=True)
    var = grouped.var(axis=reduce, keepdims=True)
    out = ((grouped - mean) / np.sqrt(var + epsilon)).reshape(x.shape) * gamma + beta
    return np.moveaxis(out, -1, axis)


def _built_group_norm(shape, **kwargs):
    layer = layers.GroupNormalization(dtype="float64", **kwargs)
    layer.build(shape)
    layer.set_weights([_x(w.shape, i + 3) for i, w in enumerate(layer.get_weights())])
    return layer


@pytest.mark.parametrize("kwargs, shape, groups", [
    (dict(groups=2), (3, 5, 4), 2),
    (dict(groups=4, axis=1), (2, 8, 3, 3), 4),
    (dict(groups=-1), (2, 6, 3), 3),
    (dict(groups=1, axis=-2), (2, 4, 6, 2), 1),
])
def test_group_normalization_matches_numpy(kwargs, shape, groups):
    layer = _built_group_norm(shape, **kwargs)
    gamma, beta = layer.get_weights()
    x = _x(shape)
    np.testing.assert_allclose(np.asarray(layer(x)),
                               _group_norm_ref(x, groups, layer.axis, gamma, beta),
                               rtol=1e-10, atol=1e-12)
    assert layer.groups == groups  # -1 became one group per channel, as in Keras
    assert layer.compute_output_shape(shape) == shape


def test_group_normalization_weights_without_center_or_scale():
    layer = layers.GroupNormalization(groups=2, center=False, dtype="float64")
    layer.build((None, 3, 4))
    assert [(w.path, w.shape) for w in layer.weights] == [("group_normalization/gamma", (4,))]
    x = _x((2, 3, 4))
    np.testing.assert_allclose(np.asarray(layer(x)),
                               _group_norm_ref(x, 2, -1, np.ones(4), np.zeros(4)), rtol=1e-10)
    assert not layers.GroupNormalization(groups=2, scale=False, center=False).weights


def test_group_normalization_gradients():
    layer = _built_group_norm((2, 3, 4), groups=2)
    check_weight_grads(layer, _x((2, 3, 4)), _x((2, 3, 4), 9))


@pytest.mark.parametrize("kwargs, match", [
    (dict(groups=0), "groups"), (dict(groups=2.0), "groups"), (dict(groups=True), "groups")])
def test_group_normalization_rejects_bad_groups(kwargs, match):
    with pytest.raises(ValueError, match=match):
        layers.GroupNormalization(**kwargs)


def test_group_normalization_build_errors_name_the_layer():
    with pytest.raises(ValueError, match="'gn'.*groups=3"):
        layers.GroupNormalization(groups=3, name="gn").build((None, 4))
    with pytest.raises(ValueError, match="'gn'.*must be known"):
        layers.GroupNormalization(groups=2, name="gn").build((None, None))
    with pytest.raises(ValueError, match="out of range"):
        layers.GroupNormalization(groups=2, axis=3).build((None, 4))
    with pytest.raises(TypeError, match="axis"):
        layers.GroupNormalization(axis=[1])


def test_group_normalization_config_roundtrip():
    layer = layers.GroupNormalization(groups=4, axis=1, epsilon=1e-5, center=False)
    clone = assert_config_roundtrip(layer, GROUP_KEYS)
    assert (clone.groups, clone.axis, clone.epsilon, clone.center) == (4, 1, 1e-5, False)


@pytest.mark.parametrize("policy", ["float16", "mixed_float16"])
def test_group_normalization_half_precision_statistics_do_not_overflow(policy):
    # Squares of 300 overflow float16 (max 65504): the statistics are taken in float32.
    x = _x((2, 3, 4)) * 300.0
    layer = layers.GroupNormalization(groups=2, dtype=policy)
    out = layer(x.astype("float16"))
    assert out.dtype == "float16"
    ref = _group_norm_ref(x.astype("float16").astype("float64"), 2, -1, 1.0, 0.0)
    np.testing.assert_allclose(np.asarray(out, "float64"), ref, atol=4e-3)


def test_group_normalization_symbolic_with_unknown_dims_passes_masks():
    inputs = gk.Input((None, 4))
    assert layers.GroupNormalization(groups=2)(inputs).shape == (None, None, 4)
    x = _x((2, 5, 4))
    mask = np.arange(5)[None] < np.array([[5], [2]])
    layer = layers.GroupNormalization(groups=2)
    assert layer.compute_mask(x, mask) is mask


def test_unit_normalization_matches_numpy():
    x = _x((2, 3, 4))
    x[0, 1] = 0.0  # an all-zero slice stays zero, not NaN
    for axis in (-1, 1, [1, 2]):
        layer = layers.UnitNormalization(axis, dtype="float64")
        axes = tuple(axis) if isinstance(axis, list) else axis
        norm = np.sqrt((x ** 2).sum(axis=axes, keepdims=True))
        np.testing.assert_allclose(np.asarray(layer(x)), x / np.maximum(norm, 1e-12),
                                   rtol=1e-12, atol=1e-15)
    assert not np.isnan(np.asarray(layers.UnitNormalization()(x))).any()


def test_unit_normalization_input_gradient():
    x = _x((2, 4))
    cotangent = _x((2, 4), 5)
    layer = layers.UnitNormalization(dtype="float64")
    tensor = gk.ops.convert_to_tensor(x)
    with gk.GradientTape() as tape:
        tape.watch(tensor)
        loss = gk.ops.sum(gk.ops.multiply(layer(tensor), cotangent))
    grad = np.asarray(tape.gradient(loss, tensor))
    # d(x / |x|) applied to the cotangent: (c - y (y . c)) / |x|, row by row.
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    y = x / norm
    expected = (cotangent - y * (y * cotangent).sum(-1, keepdims=True)) / norm
    np.testing.assert_allclose(grad, expected, rtol=1e-10)


def test_unit_normalization_half_precision_and_errors():
    x = (_x((2, 3)) * 300.0).astype("float16")
    out = layers.UnitNormalization(dtype="float16")(x)
    assert out.dtype == "float16"
    ref = x.astype("float64") / np.linalg.norm(x.astype("float64"), axis=-1, keepdims=True)
    np.testing.assert_allclose(np.asarray(out, "float64"), ref, atol=1e-3)
    with pytest.raises(TypeError, match="UnitNormalization.*axis"):
        layers.UnitNormalization(axis="last")
    with pytest.raises(ValueError, match="'un'.*out of bounds"):
        layers.UnitNormalization(axis=2, name="un").compute_output_shape((None, 3))


def test_unit_normalization_config_and_symbolic_shape():
    layer = layers.UnitNormalization(axis=[1, 2])
    assert_config_roundtrip(layer, BASE_KEYS | {"axis"})
    assert layers.UnitNormalization()(gk.Input((None, 3))).shape == (None, None, 3)


def test_compiled_model_predicts_like_eager():
    inputs = gk.Input((5, 4))
    x = layers.GroupNormalization(groups=2)(inputs)
    outputs = layers.UnitNormalization()(layers.Dense(3)(x))
    model = gk.Model(inputs, outputs)
    for layer in model.layers:
        for w in layer.weights:
            w.assign(_x(w.shape, 7).astype("float32"))
    check_compiled_predict(model, _x((3, 5, 4)).astype("float32"))


# -- RMSNormalization ----------------------------------------------------------------------

@pytest.mark.parametrize("axis", [-1, 1, [1, 2]])
def test_rms_normalization_matches_numpy(axis):
    x = np.random.default_rng(3).normal(size=(2, 3, 4))
    layer = layers.RMSNormalization(axis=axis, epsilon=1e-6, dtype="float64")
    layer.build(x.shape)
    axes = tuple(axis) if isinstance(axis, list) else (axis % 3,)
    scale = np.random.default_rng(4).normal(size=tuple(x.shape[a] for a in axes))
    layer.set_weights([scale])
    shaped = scale.reshape([x.shape[a] if a in axes else 1 for a in range(3)])
    expected = x / np.sqrt(np.mean(x * x, axis=axes, keepdims=True) + 1e-6) * shaped
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-12)
    assert [w.path.rsplit("/", 1)[-1] for w in layer.weights] == ["scale"]
    check_weight_grads(layer, x, np.random.default_rng(5).normal(size=x.shape))
    assert assert_config_roundtrip(layer).get_config()["epsilon"] == 1e-6


def test_rms_normalization_needs_known_axes():
    with pytest.raises(ValueError, match=r"RMSNormalization '.*'.*known sizes"):
        layers.RMSNormalization()(gk.Input((3, None)))
    assert layers.RMSNormalization(axis=1)(gk.Input((3, None))).shape == (None, 3, None)
