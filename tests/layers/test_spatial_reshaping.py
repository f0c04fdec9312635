"""ZeroPadding2D and UpSampling2D against NumPy."""
import numpy as np
import pytest

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
