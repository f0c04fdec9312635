"""Flatten, Reshape, Permute, RepeatVector."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers
from tests.layers.layer_checks import assert_config_roundtrip

BASE_KEYS = {"name", "trainable", "dtype"}
X = np.arange(2 * 3 * 4, dtype="float32").reshape(2, 3, 4)


def test_flatten():
    layer = layers.Flatten()
    np.testing.assert_array_equal(np.asarray(layer(X)), X.reshape(2, 12))
    assert layer.compute_output_shape((None, 3, 4)) == (None, 12)
    assert layer.compute_output_shape((None, None, 4)) == (None, None)
    np.testing.assert_array_equal(np.asarray(layer(np.ones(3, "float32"))), np.ones((3, 1)))
    cf = layers.Flatten(data_format="channels_first")
    np.testing.assert_array_equal(np.asarray(cf(X)),
                                  np.transpose(X, (0, 2, 1)).reshape(2, 12))
    config = assert_config_roundtrip(cf, BASE_KEYS | {"data_format"}).get_config()
    assert config["data_format"] == "channels_first"
    assert layers.Flatten().get_config()["data_format"] == "channels_last"
    with pytest.raises(ValueError, match="data_format"):
        layers.Flatten(data_format="nhwc")


def test_reshape():
    layer = layers.Reshape((4, -1))
    y = layer(X)
    np.testing.assert_array_equal(np.asarray(y), X.reshape(2, 4, 3))
    assert layer.compute_output_shape((None, 3, 4)) == (None, 4, 3)
    assert layer.compute_output_shape((None, None, 4)) == (None, 4, None)
    config = assert_config_roundtrip(layer, BASE_KEYS | {"target_shape"}).get_config()
    assert config["target_shape"] == (4, -1)
    with pytest.raises(ValueError, match="target_shape"):
        layers.Reshape((-1, -1))
    with pytest.raises(ValueError, match=r"Reshape.*total size"):
        layers.Reshape((5,))(X)


def test_permute():
    layer = layers.Permute((2, 1))
    np.testing.assert_array_equal(np.asarray(layer(X)), np.transpose(X, (0, 2, 1)))
    assert layer.compute_output_shape((None, 3, 4)) == (None, 4, 3)
    assert_config_roundtrip(layer, BASE_KEYS | {"dims"})
    with pytest.raises(ValueError, match="dims"):
        layers.Permute((0, 1))
    with pytest.raises(ValueError, match="permute"):  # the input spec wants rank 3
        layer(np.ones((2, 3), "float32"))


def test_repeat_vector():
    x = np.arange(6, dtype="float32").reshape(2, 3)
    layer = layers.RepeatVector(4)
    y = layer(x)
    np.testing.assert_array_equal(np.asarray(y), np.repeat(x[:, None, :], 4, axis=1))
    assert layer.compute_output_shape((None, 3)) == (None, 4, 3)
    assert_config_roundtrip(layer, BASE_KEYS | {"n"})
    with pytest.raises(ValueError, match="repeat_vector"):
        layer(X)
    with pytest.raises(TypeError, match="n"):
        layers.RepeatVector(2.5)


@pytest.mark.parametrize("n", [0, -1])
def test_repeat_vector_needs_a_positive_n(n):
    # Keras: "Argument `n` should be a positive integer", not an empty or failing output.
    with pytest.raises(ValueError, match=rf"RepeatVector: `n` must be a positive .*n={n}"):
        layers.RepeatVector(n)


@pytest.mark.parametrize("layer, shape", [(lambda: layers.Reshape((2, 3)), (6,)),
                                          (lambda: layers.Permute((2, 1)), (2, 3)),
                                          (lambda: layers.Flatten(), (2, 3))])
@pytest.mark.parametrize("dtype", ["int32", "uint8"])
def test_reshaping_keeps_integer_dtype_symbolically_as_eagerly(layer, shape, dtype):
    # Keras's compute_output_spec passes the inputs' dtype through; the eager output is
    # integer too, so the graph must not claim a float output.
    symbolic = layer()(gk.Input(shape, dtype=dtype))
    eager = layer()(np.arange(12).reshape((2,) + shape).astype(dtype))
    assert symbolic.dtype == eager.dtype == dtype
