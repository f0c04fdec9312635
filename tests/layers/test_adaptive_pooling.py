"""AdaptiveAveragePooling1D/2D/3D and AdaptiveMaxPooling1D/2D/3D against NumPy float64 loops
over Keras 3's bins, plus gradients, shapes, configs, errors and the compiled path."""
import itertools
import math

import numpy as np
import pytest

import graphkit as gk
from graphkit import layers
from tests.layers.layer_checks import (assert_config_roundtrip, check_compiled_predict,
                                       check_input_grad)

CONFIG_KEYS = {"name", "trainable", "dtype", "output_size", "data_format"}


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def _layer(kind, rank, output_size, **kwargs):
    return getattr(layers, f"Adaptive{kind}Pooling{rank}D")(output_size, **kwargs)


def _keras_bin(i, length, output_length):
    """Keras's bin of output position i: [floor(i L / n), ceil((i + 1) L / n))."""
    return (math.floor(i * length / output_length),
            math.ceil((i + 1) * length / output_length))


def _adaptive_reference(x, output_size, reduce):
    """Channels last: each output position reduces the box of its bins, by a loop."""
    spatial = x.shape[1:-1]
    out = np.zeros((x.shape[0], *output_size, x.shape[-1]))
    for pos in itertools.product(*(range(n) for n in output_size)):
        box = tuple(slice(*_keras_bin(i, length, n))
                    for i, length, n in zip(pos, spatial, output_size))
        out[(slice(None),) + pos] = reduce(x[(slice(None),) + box],
                                           axis=tuple(range(1, 1 + len(spatial))))
    return out


CASES = [  # (spatial input shape, output_size): most do not divide evenly
    ((10,), (4,)), ((7,), (3,)), ((3,), (5,)), ((6,), (6,)),
    ((7, 9), (3, 4)), ((5, 6), (7, 4)), ((8, 8), (2, 2)),
    ((5, 7, 4), (2, 3, 3)), ((3, 4, 5), (5, 2, 4)),
]


@pytest.mark.parametrize("kind, reduce", [("Average", np.mean), ("Max", np.max)])
@pytest.mark.parametrize("spatial, output_size", CASES)
def test_adaptive_pooling_matches_numpy(kind, reduce, spatial, output_size):
    x = _x((2, *spatial, 3))
    layer = _layer(kind, len(spatial), output_size, dtype="float64")
    expected = _adaptive_reference(x, output_size, reduce)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-12, atol=1e-12)


def test_bins_overlap_where_the_output_does_not_divide_the_input():
    # length 5 to 3: bins [0, 2), [1, 4), [3, 5)
    x = np.arange(5.0).reshape(1, 5, 1)
    y = np.asarray(layers.AdaptiveAveragePooling1D(3, dtype="float64")(x))
    np.testing.assert_allclose(y.reshape(-1), [0.5, 2.0, 3.5])
    y = np.asarray(layers.AdaptiveMaxPooling1D(3, dtype="float64")(x))
    np.testing.assert_allclose(y.reshape(-1), [1.0, 3.0, 4.0])


@pytest.mark.parametrize("kind, reduce", [("Average", np.mean), ("Max", np.max)])
def test_adaptive_pooling_channels_first(kind, reduce):
    x = _x((2, 3, 5, 7, 4))
    layer = _layer(kind, 3, (2, 4, 3), data_format="channels_first", dtype="float64")
    expected = _adaptive_reference(np.moveaxis(x, 1, -1), (2, 4, 3), reduce)
    np.testing.assert_allclose(np.asarray(layer(x)), np.moveaxis(expected, -1, 1),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["Average", "Max"])
def test_adaptive_pooling_gradient_matches_finite_differences(kind):
    layer = _layer(kind, 2, (2, 3), dtype="float64")
    x = _x((1, 5, 4, 2))  # distinct values: max has one gradient
    check_input_grad(layer, x, _x((1, 2, 3, 2), 1))


def test_adaptive_pooling_output_shapes():
    # As Keras: the output size is fixed, whatever (or unknown) the input size.
    assert layers.AdaptiveMaxPooling2D((2, 3)).compute_output_shape(
        (None, None, None, 4)) == (None, 2, 3, 4)
    assert layers.AdaptiveAveragePooling1D(5, data_format="channels_first")\
        .compute_output_shape((2, 4, 9)) == (2, 4, 5)
    assert layers.AdaptiveAveragePooling3D(2).compute_output_shape(
        (1, 5, 6, 7, 3)) == (1, 2, 2, 2, 3)
    symbolic = layers.AdaptiveAveragePooling2D(3)(gk.Input((None, None, 4)))
    assert tuple(symbolic.shape) == (None, 3, 3, 4)


@pytest.mark.parametrize("kind, rank", itertools.product(["Average", "Max"], [1, 2, 3]))
def test_adaptive_pooling_config_round_trip_with_keras_keys(kind, rank):
    layer = _layer(kind, rank, 3, data_format="channels_first")
    clone = assert_config_roundtrip(layer, CONFIG_KEYS)
    assert clone.output_size == (3,) * rank
    assert clone.data_format == "channels_first"


def test_adaptive_pooling_bad_arguments_name_the_layer():
    with pytest.raises(ValueError, match=r"AdaptiveMaxPooling2D: `output_size` must be an "
                                         r"int or a tuple of 2 ints. Received: "
                                         r"output_size=\(2,\)"):
        layers.AdaptiveMaxPooling2D((2,))
    with pytest.raises(ValueError, match="AdaptiveAveragePooling1D: every entry of "
                                         "`output_size` must be positive"):
        layers.AdaptiveAveragePooling1D(0)
    with pytest.raises(ValueError, match="AdaptiveAveragePooling3D: `data_format` must be"):
        layers.AdaptiveAveragePooling3D(2, data_format="NDHWC")
    with pytest.raises(ValueError, match="layer 'max1d' .*expected ndim=3, found ndim=2"):
        layers.AdaptiveMaxPooling1D(2, name="max1d")(np.zeros((2, 3)))


def test_adaptive_pooling_compiled_predict():
    inputs = gk.Input((7, 9, 3))
    x = layers.AdaptiveMaxPooling2D((3, 4))(inputs)
    outputs = layers.AdaptiveAveragePooling2D((2, 2))(x)
    model = gk.Model(inputs, outputs)
    check_compiled_predict(model, _x((2, 7, 9, 3)).astype("float32"))
