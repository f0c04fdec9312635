"""Hashing: expected bins computed with Keras 3.15's Hashing on TensorFlow 2.21
('tf.strings.to_hash_bucket_fast' / 'to_hash_bucket_strong'), pinned here."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers
from graphkit.ir.tracer import TracerError

S = np.array([["apple", "", "banana"], ["héllo wörld", "x" * 70, "a"]])
I = np.array([[0, -5, 123456789012], [7, 42, -1]])
F = np.array([[0.5, -1.7, 3.9], [1e6, -0.2, 42.0]])


def arr(x):
    return np.asarray(x)


@pytest.mark.parametrize("kwargs,x,expected", [
    (dict(num_bins=5), S, [[1, 3, 1], [2, 0, 4]]),
    (dict(num_bins=3, mask_value=""), S, [[2, 0, 1], [2, 2, 2]]),
    # integers are hashed as their decimal strings
    (dict(num_bins=1000), I, [[735, 816, 427], [88, 736, 430]]),
    (dict(num_bins=7, mask_value=42), I, [[2, 1, 4], [5, 0, 1]]),
    # floats are truncated to int64 first; the mask compares the raw float
    (dict(num_bins=11), F, [[2, 7, 4], [9, 2, 3]]),
    (dict(num_bins=9, mask_value=-0.2), F, [[8, 7, 2], [5, 0, 1]]),
    (dict(num_bins=5), np.array([True, False, True]), [0, 2, 0]),
    (dict(num_bins=1, mask_value=""), S, [[0, 0, 0], [0, 0, 0]]),  # no bin left to mask
    (dict(num_bins=13, salt=133), S, [[2, 8, 0], [10, 12, 2]]),
    (dict(num_bins=13, salt=(2**40, -3)), I, [[12, 8, 8], [2, 12, 9]]),
    (dict(num_bins=6, salt=[1, 2], mask_value=""), S, [[4, 0, 3], [1, 5, 2]]),
    (dict(num_bins=4), "scalar", 2),
    (dict(num_bins=4), 17, 2),
])
def test_int_bins_match_keras(kwargs, x, expected):
    out = arr(layers.Hashing(**kwargs)(x))
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("kwargs,x,expected", [
    (dict(output_mode="one_hot"), S[0], [[0, 1, 0, 0], [0, 0, 0, 1], [1, 0, 0, 0]]),
    (dict(output_mode="one_hot"), S[:, :1], [[0, 1, 0, 0], [0, 0, 0, 1]]),
    (dict(output_mode="multi_hot"), S, [[1, 1, 0, 1], [0, 1, 0, 1]]),
    (dict(output_mode="multi_hot"), S[0], [1, 1, 0, 1]),
    (dict(output_mode="count", mask_value=""), S, [[1, 1, 1, 0], [0, 2, 0, 1]]),
    (dict(output_mode="count"), I[0], [1, 0, 0, 2]),
])
def test_encoded_output_modes_match_keras(kwargs, x, expected):
    layer = layers.Hashing(num_bins=4, **kwargs)
    out = arr(layer(x))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)
    assert layer.compute_output_shape(np.shape(x)) == out.shape


def test_int32_dtype_and_graphkit_tensor_input():
    layer = layers.Hashing(num_bins=4, dtype="int32")
    out = arr(layer(gk.ops.convert_to_tensor(I)))
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [[3, 0, 3], [0, 0, 2]])


@pytest.mark.parametrize("kwargs,match", [
    (dict(num_bins=0), "`num_bins` must be a positive int"),
    (dict(num_bins=None), "`num_bins` must be a positive int"),
    (dict(num_bins=3, output_mode="tf_idf"), "`output_mode` must be one of"),
    (dict(num_bins=3, dtype="float32"), "`dtype` must be 'int32' or 'int64'"),
    (dict(num_bins=3, sparse=True), "sparse=True is not supported"),
    (dict(num_bins=3, salt="pepper"), "`salt` must be a tuple of 2 integers"),
    (dict(num_bins=3, salt=(1, 2, 3)), "`salt` must be a tuple of 2 integers"),
])
def test_errors_name_the_layer(kwargs, match):
    with pytest.raises(ValueError, match=r"Hashing '.*" + match):
        layers.Hashing(**kwargs)


@pytest.mark.parametrize("kwargs", [
    dict(num_bins=7, mask_value="", salt=5),
    dict(num_bins=4, output_mode="count", salt=(1, 2)),
    dict(num_bins=4, output_mode="binary"),
])
def test_config_round_trip(kwargs):
    layer = layers.Hashing(**kwargs)
    config = layer.get_config()
    assert {"num_bins", "mask_value", "salt", "output_mode", "sparse"} <= set(config)
    clone = layers.Hashing.from_config(config)
    assert clone.get_config() == config
    np.testing.assert_array_equal(arr(clone(S)), arr(layer(S)))


def test_salt_is_stored_as_a_pair():
    assert layers.Hashing(num_bins=3, salt=9).get_config()["salt"] == [9, 9]


def test_compiling_says_the_layer_runs_eagerly():
    layer = layers.Hashing(num_bins=5)
    inputs = gk.Input((2,), dtype="int64")
    model = gk.Model(inputs, layers.Dense(1)(gk.ops.cast(layer(inputs), "float32")))
    x = np.array([[3, 5]])
    eager = model.predict(x, verbose=0)
    model.compile(jit_compile=True)
    with pytest.raises(TracerError, match="Hashing '.*run eagerly"):
        model.predict(x, verbose=0)
    model.compile(jit_compile="auto")  # falls back to eager
    np.testing.assert_allclose(model.predict(x, verbose=0), eager)
