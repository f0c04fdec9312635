"""Pooling layers against NumPy float64 references."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers
from tests.layers.layer_checks import assert_config_roundtrip, numeric_grad

BASE_KEYS = {"name", "trainable", "dtype"}


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def _windows_2d(x, p, s):
    n, h, w, c = x.shape
    oh, ow = (h - p[0]) // s[0] + 1, (w - p[1]) // s[1] + 1
    out = np.empty((n, oh, ow, c, p[0] * p[1]))
    for i in range(oh):
        for j in range(ow):
            win = x[:, i * s[0]:i * s[0] + p[0], j * s[1]:j * s[1] + p[1], :]
            out[:, i, j] = win.reshape(n, -1, c).transpose(0, 2, 1)
    return out


@pytest.mark.parametrize("cls, reduce", [(layers.MaxPooling2D, np.max),
                                         (layers.AveragePooling2D, np.mean)])
def test_pooling_2d_matches_numpy(cls, reduce):
    x = _x((2, 7, 6, 3))
    layer = cls(pool_size=(3, 2), strides=(2, 2), dtype="float64")
    expected = reduce(_windows_2d(x, (3, 2), (2, 2)), axis=-1)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-12)
    assert layer.compute_output_shape((None, 7, 6, 3)) == (None, 3, 3, 3)


def test_pooling_channels_first_and_same_padding():
    x = _x((2, 3, 5, 5))
    layer = layers.MaxPooling2D(2, padding="same", data_format="channels_first",
                                dtype="float64")
    y = np.asarray(layer(x))
    xp = np.pad(x.transpose(0, 2, 3, 1), ((0, 0), (0, 1), (0, 1), (0, 0)),
                constant_values=-np.inf)
    expected = _windows_2d(xp, (2, 2), (2, 2)).max(-1).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(y, expected)
    assert layer.compute_output_shape((None, 3, 5, 5)) == (None, 3, 3, 3)


def test_max_pooling_1d_default_strides_equal_pool_size():
    x = _x((2, 7, 3))
    y = np.asarray(layers.MaxPooling1D(3, dtype="float64")(x))
    np.testing.assert_allclose(y, x[:, :6].reshape(2, 2, 3, 3).max(axis=2))


def test_average_pooling_gradient_matches_finite_differences():
    x = _x((1, 4, 4, 2))
    w = _x((1, 2, 2, 2), 1)
    layer = layers.AveragePooling2D(dtype="float64")
    xt = gk.Variable(x, dtype="float64")
    with gk.GradientTape() as tape:
        loss = gk.ops.sum(gk.ops.multiply(layer(xt.value), w))
    g = np.asarray(tape.gradient(loss, xt))
    expected = numeric_grad(lambda: float(np.sum(np.asarray(layer(x)) * w)), x)
    np.testing.assert_allclose(g, expected, atol=1e-7)


def test_global_pooling_2d_and_keepdims():
    x = _x((2, 4, 5, 3))
    np.testing.assert_allclose(np.asarray(layers.GlobalAveragePooling2D(dtype="float64")(x)),
                               x.mean(axis=(1, 2)))
    layer = layers.GlobalMaxPooling2D(keepdims=True, dtype="float64")
    np.testing.assert_allclose(np.asarray(layer(x)), x.max(axis=(1, 2), keepdims=True))
    assert layer.compute_output_shape((None, 4, 5, 3)) == (None, 1, 1, 3)
    first = layers.GlobalAveragePooling2D(data_format="channels_first", dtype="float64")
    np.testing.assert_allclose(np.asarray(first(x)), x.mean(axis=(2, 3)))


def test_global_average_pooling_1d_masked_mean_excludes_padding():
    x = _x((2, 4, 3))
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], bool)
    y = np.asarray(layers.GlobalAveragePooling1D(dtype="float64")(x, mask=mask))
    np.testing.assert_allclose(y[0], x[0, :2].mean(0))
    np.testing.assert_allclose(y[1], x[1].mean(0))


def test_pooling_configs_round_trip_with_keras_keys():
    layer = assert_config_roundtrip(layers.MaxPooling2D((2, 3), padding="same"),
                                    BASE_KEYS | {"pool_size", "strides", "padding",
                                                 "data_format"})
    assert layer.strides == (2, 3)
    assert_config_roundtrip(layers.GlobalAveragePooling1D(keepdims=True),
                            BASE_KEYS | {"data_format", "keepdims"})


def test_pooling_bad_arguments_name_the_layer():
    with pytest.raises(ValueError, match="MaxPooling2D: `padding`"):
        layers.MaxPooling2D(padding="full")
    with pytest.raises(ValueError, match="AveragePooling2D: `pool_size`"):
        layers.AveragePooling2D(pool_size=(2, 2, 2))


def test_valid_pooling_window_larger_than_a_known_input_is_an_error():
    # Keras's symbolic shape rule raises "Computed output size would be zero or negative".
    with pytest.raises(ValueError, match=r"MaxPooling1D 'max_pooling1d.*zero or negative.*"
                                         r"input_shape=\(None, 3, 2\), pool_size=\(5,\)"):
        layers.MaxPooling1D(5)(gk.Input((3, 2)))
    with pytest.raises(ValueError, match="AveragePooling2D .*zero or negative"):
        layers.AveragePooling2D((2, 4))(gk.Input((3, 3, 2)))
    assert tuple(layers.MaxPooling1D(5, padding="same")(gk.Input((3, 2))).shape) == (None, 1, 2)
    assert tuple(layers.MaxPooling1D(5)(gk.Input((None, 2))).shape) == (None, None, 2)


def _windows_3d(x, p, s):
    """(batch, d, h, w, channels) -> the valid windows, reduced later over axis 4."""
    b, d, h, w, c = x.shape
    od, oh, ow = ((d - p[0]) // s[0] + 1, (h - p[1]) // s[1] + 1, (w - p[2]) // s[2] + 1)
    out = np.empty((b, od, oh, ow, p[0] * p[1] * p[2], c))
    for i in range(od):
        for j in range(oh):
            for k in range(ow):
                window = x[:, i * s[0]:i * s[0] + p[0], j * s[1]:j * s[1] + p[1],
                           k * s[2]:k * s[2] + p[2]]
                out[:, i, j, k] = window.reshape(b, -1, c)
    return out


@pytest.mark.parametrize("cls, reduce", [("MaxPooling3D", np.max),
                                         ("AveragePooling3D", np.mean)])
def test_pooling_3d_matches_numpy(cls, reduce):
    x = _x((2, 5, 6, 7, 3))
    layer = getattr(layers, cls)((2, 3, 2), strides=(1, 2, 3), dtype="float64")
    expected = reduce(_windows_3d(x, (2, 3, 2), (1, 2, 3)), axis=4)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-12)
    # channels_first is the same pooling on the transposed input
    first = getattr(layers, cls)((2, 3, 2), strides=(1, 2, 3), data_format="channels_first",
                                 dtype="float64")
    np.testing.assert_allclose(np.asarray(first(np.moveaxis(x, -1, 1))),
                               np.moveaxis(expected, -1, 1), rtol=1e-12)
    assert layer.compute_output_shape((None, None, 6, 7, 3)) == (None, None, 2, 2, 3)
    assert assert_config_roundtrip(layer).pool_size == (2, 3, 2)


def test_global_pooling_3d():
    x = _x((2, 3, 4, 5, 6))
    np.testing.assert_allclose(
        np.asarray(layers.GlobalAveragePooling3D(dtype="float64")(x)), x.mean(axis=(1, 2, 3)),
        rtol=1e-12)
    layer = layers.GlobalMaxPooling3D(data_format="channels_first", keepdims=True,
                                      dtype="float64")
    np.testing.assert_array_equal(np.asarray(layer(x)), x.max(axis=(2, 3, 4), keepdims=True))
    assert layer.compute_output_shape((None, 3, None, 5, 6)) == (None, 3, 1, 1, 1)
    assert assert_config_roundtrip(layer).keepdims is True
