"""ZeroPadding, Cropping and UpSampling in 1, 2 and 3 dimensions against NumPy."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers
from tests.layers.layer_checks import assert_config_roundtrip


def test_zero_padding_2d_forms_and_channels_first():
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 2))
    y = layers.ZeroPadding2D(((1, 2), (0, 3)), dtype="float64")(x)
    np.testing.assert_array_equal(np.asarray(y),
                                  np.pad(x, ((0, 0), (1, 2), (0, 3), (0, 0))))
    layer = layers.ZeroPadding2D(1, data_format="channels_first", dtype="float64")
    np.testing.assert_array_equal(np.asarray(layer(x)),
                                  np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))))
    assert layer.compute_output_shape((None, 3, 4, None)) == (None, 3, 6, None)
    clone = assert_config_roundtrip(layers.ZeroPadding2D((2, 1)),
                                    {"name", "trainable", "dtype", "padding", "data_format"})
    assert clone.padding == ((2, 2), (1, 1))
    with pytest.raises(ValueError, match="ZeroPadding2D: `padding`"):
        layers.ZeroPadding2D((1, 2, 3))


def test_up_sampling_2d_nearest():
    x = np.arange(12.0).reshape(1, 2, 3, 2)
    layer = layers.UpSampling2D((2, 3), dtype="float64")
    y = np.asarray(layer(x))
    np.testing.assert_array_equal(y, x.repeat(2, axis=1).repeat(3, axis=2))
    assert layer.compute_output_shape((None, 2, 3, 2)) == (None, 4, 9, 2)
    assert_config_roundtrip(layer, {"name", "trainable", "dtype", "size", "data_format",
                                    "interpolation"})
    with pytest.raises(ValueError, match="UpSampling2D: only `interpolation='nearest'`"):
        layers.UpSampling2D(interpolation="bilinear")


def _x(*shape):
    return np.random.default_rng(len(shape)).normal(size=shape)


def _full_pads(pairs, ndim, channels_first):
    pads = [(0, 0)] * ndim
    first = 2 if channels_first else 1
    for i, pair in enumerate(pairs):
        pads[first + i] = pair
    return pads


@pytest.mark.parametrize("cls, padding, pairs, channels_first", [
    ("ZeroPadding1D", 2, [(2, 2)], False),
    ("ZeroPadding1D", (0, 3), [(0, 3)], True),
    ("ZeroPadding3D", 1, [(1, 1)] * 3, False),
    ("ZeroPadding3D", (1, 0, 2), [(1, 1), (0, 0), (2, 2)], True),
    ("ZeroPadding3D", ((1, 0), (0, 2), (2, 1)), [(1, 0), (0, 2), (2, 1)], False),
])
def test_zero_padding_1d_and_3d(cls, padding, pairs, channels_first):
    rank = len(pairs)
    x = _x(2, *range(3, 3 + rank), 2)
    layer = getattr(layers, cls)(padding, dtype="float64",
                                 data_format="channels_first" if channels_first else None)
    expected = np.pad(x, _full_pads(pairs, x.ndim, channels_first))
    np.testing.assert_array_equal(np.asarray(layer(x)), expected)
    assert layer.compute_output_shape((None,) + x.shape[1:]) == (None,) + expected.shape[1:]
    assert assert_config_roundtrip(layer).padding == tuple(pairs)


def _crop(x, pairs, channels_first):
    index = [slice(None)] * x.ndim
    first = 2 if channels_first else 1
    for i, (before, after) in enumerate(pairs):
        index[first + i] = slice(before, x.shape[first + i] - after)
    return x[tuple(index)]


@pytest.mark.parametrize("cls, kwargs, pairs, channels_first", [
    ("Cropping1D", {}, [(1, 1)], False),
    ("Cropping1D", {"cropping": (2, 0)}, [(2, 0)], False),
    ("Cropping2D", {"cropping": ((1, 2), (0, 3))}, [(1, 2), (0, 3)], False),
    ("Cropping2D", {"cropping": 1, "data_format": "channels_first"}, [(1, 1)] * 2, True),
    ("Cropping3D", {}, [(1, 1)] * 3, False),
    ("Cropping3D", {"cropping": ((0, 1), (2, 1), (1, 0)), "data_format": "channels_first"},
     [(0, 1), (2, 1), (1, 0)], True),
])
def test_cropping(cls, kwargs, pairs, channels_first):
    rank = len(pairs)
    x = _x(2, *range(5, 5 + rank), 3) if not channels_first else _x(2, 3, *range(5, 5 + rank))
    layer = getattr(layers, cls)(dtype="float64", **kwargs)
    expected = _crop(x, pairs, channels_first)
    np.testing.assert_array_equal(np.asarray(layer(x)), expected)
    # symbolically with an unknown spatial size, as eagerly with a known one
    first_spatial = 2 if channels_first else 1
    unknown = [None] + list(x.shape[1:])
    unknown[first_spatial] = None
    expected_symbolic = [None] + list(expected.shape[1:])
    expected_symbolic[first_spatial] = None
    symbolic = layer(gk.Input(unknown[1:], dtype="float64"))
    assert list(symbolic.shape) == expected_symbolic
    assert assert_config_roundtrip(layer).cropping == tuple(pairs)


def test_cropping_must_leave_something():
    with pytest.raises(ValueError, match=r"Cropping1D 'cropping1d.*'.*takes 7 of axis 1"):
        layers.Cropping1D((3, 4))(np.zeros((1, 7, 2), "float32"))
    with pytest.raises(ValueError, match=r"Cropping2D.*takes 4 of axis 2"):
        layers.Cropping2D(((0, 0), (2, 2)))(gk.Input((None, 4, 1)))
    with pytest.raises(ValueError, match=r"Cropping3D: `cropping` must be"):
        layers.Cropping3D((1, 2))
    assert "data_format" not in layers.Cropping1D().get_config()


def test_up_sampling_1d_and_3d():
    x = _x(2, 3, 2)
    layer = layers.UpSampling1D(3, dtype="float64")
    np.testing.assert_array_equal(np.asarray(layer(x)), x.repeat(3, axis=1))
    config = assert_config_roundtrip(layer).get_config()
    assert config["size"] == 3 and "data_format" not in config
    with pytest.raises(TypeError, match="UpSampling1D: `size` must be an int"):
        layers.UpSampling1D((2,))
    x3 = _x(1, 2, 3, 2, 2)
    layer3 = layers.UpSampling3D((1, 2, 3), data_format="channels_first", dtype="float64")
    np.testing.assert_array_equal(np.asarray(layer3(x3)),
                                  x3.repeat(2, axis=3).repeat(3, axis=4))
    assert layer3.compute_output_shape((None, 2, 3, None, 2)) == (None, 2, 3, None, 6)
