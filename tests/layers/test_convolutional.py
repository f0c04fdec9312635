"""Conv1D/Conv2D against a direct NumPy float64 convolution, and Keras parity."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers
from tests.layers.keras_reference import keras_or_skip
from tests.layers.layer_checks import assert_config_roundtrip, check_weight_grads

CONV_KEYS = {"name", "trainable", "dtype", "filters", "kernel_size", "strides", "padding",
             "data_format", "dilation_rate", "groups", "activation", "use_bias",
             "kernel_initializer", "bias_initializer", "kernel_regularizer",
             "bias_regularizer", "activity_regularizer", "kernel_constraint",
             "bias_constraint"}


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def _conv2d_reference(x, w, b, stride, dilation, groups):
    """Valid cross-correlation, channels last, by explicit loops over the output."""
    n, h, wd, cin = x.shape
    kh, kw, cg, f = w.shape
    eh, ew = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    oh, ow = (h - eh) // stride[0] + 1, (wd - ew) // stride[1] + 1
    fg = f // groups
    out = np.zeros((n, oh, ow, f))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride[0]:i * stride[0] + eh:dilation[0],
                      j * stride[1]:j * stride[1] + ew:dilation[1], :]
            for g in range(groups):
                pg = patch[..., g * cg:(g + 1) * cg]
                out[:, i, j, g * fg:(g + 1) * fg] = np.einsum(
                    "nabc,abcf->nf", pg, w[..., g * fg:(g + 1) * fg])
    return out + b


@pytest.mark.parametrize("strides, dilation, groups", [((1, 1), (1, 1), 1),
                                                       ((2, 1), (1, 1), 2),
                                                       ((1, 1), (2, 1), 1)])
def test_conv2d_matches_numpy(strides, dilation, groups):
    x = _x((2, 7, 6, 4))
    layer = layers.Conv2D(6, (3, 2), strides=strides, dilation_rate=dilation, groups=groups,
                          dtype="float64")
    layer.build(x.shape)
    kernel = _x((3, 2, 4 // groups, 6), 1)
    bias = _x((6,), 2)
    layer.set_weights([kernel, bias])
    assert [w.name for w in layer.weights] == ["kernel", "bias"]
    y = np.asarray(layer(x))
    expected = _conv2d_reference(x, kernel, bias, strides, dilation, groups)
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12)
    assert layer.compute_output_shape(x.shape) == expected.shape


def test_conv2d_same_padding_and_channels_first():
    x = _x((2, 3, 5, 5))
    layer = layers.Conv2D(2, 3, padding="same", data_format="channels_first",
                          activation="relu", dtype="float64")
    y = np.asarray(layer(x))
    kernel, bias = layer.get_weights()
    xp = np.pad(x.transpose(0, 2, 3, 1), ((0, 0), (1, 1), (1, 1), (0, 0)))
    expected = np.maximum(_conv2d_reference(xp, kernel, bias, (1, 1), (1, 1), 1), 0)
    np.testing.assert_allclose(y, expected.transpose(0, 3, 1, 2), rtol=1e-10, atol=1e-12)
    assert layer.compute_output_shape((None, 3, 5, 5)) == (None, 2, 5, 5)


def test_conv1d_causal_output_depends_only_on_the_past():
    x = _x((1, 6, 2))
    layer = layers.Conv1D(3, 3, padding="causal", dilation_rate=2, dtype="float64")
    y = np.asarray(layer(x))
    x2 = x.copy()
    x2[:, 4:] += 1.0
    y2 = np.asarray(layer(x2))
    np.testing.assert_allclose(y[:, :4], y2[:, :4])
    assert not np.allclose(y[:, 4:], y2[:, 4:])
    kernel, bias = layer.get_weights()
    xp = np.pad(x, ((0, 0), (4, 0), (0, 0)))
    expected = sum(xp[:, 2 * k:2 * k + 6] @ kernel[k] for k in range(3)) + bias
    np.testing.assert_allclose(y, expected, rtol=1e-10)


def test_conv2d_gradients_match_finite_differences():
    layer = layers.Conv2D(2, 2, strides=2, dtype="float64", bias_initializer="ones")
    x = _x((1, 4, 5, 3))
    check_weight_grads(layer, x, _x((1, 2, 2, 2), 3))


def test_conv_config_round_trip_and_errors():
    layer = assert_config_roundtrip(layers.Conv2D(4, 3, padding="same", groups=2),
                                    CONV_KEYS)
    assert layer.kernel_size == (3, 3)
    with pytest.raises(ValueError, match="Conv2D .*`filters` must be divisible by `groups`"):
        layers.Conv2D(3, 3, groups=2)
    with pytest.raises(ValueError, match="divisible by `groups`"):
        layers.Conv2D(4, 3, groups=2)(np.ones((1, 4, 4, 3)))
    with pytest.raises(ValueError, match="`padding`"):
        layers.Conv2D(4, 3, padding="causal")


def test_valid_conv_larger_than_its_input_is_an_error_not_an_empty_output():
    # Keras: "Computed output size would be zero or negative", at build and symbolically.
    with pytest.raises(ValueError, match=r"Conv2D 'conv2d.*zero or negative.*"
                                         r"input_shape=\(2, 2, 2, 4\).*kernel_size=\(3, 3\)"):
        layers.Conv2D(3, 3)(np.ones((2, 2, 2, 4), "float32"))
    with pytest.raises(ValueError, match="Conv1D .*zero or negative.*dilation_rate=\\(2,\\)"):
        layers.Conv1D(3, 3, dilation_rate=2)(gk.Input((4, 2)))
    # "same"/"causal" padding and unknown lengths still work.
    assert layers.Conv2D(3, 3, padding="same")(np.ones((2, 2, 2, 4))).shape == (2, 2, 2, 3)
    assert layers.Conv1D(3, 3, padding="causal")(np.ones((1, 1, 2))).shape == (1, 1, 3)
    assert tuple(layers.Conv1D(3, 5)(gk.Input((None, 2))).shape) == (None, None, 3)


def test_conv_on_inputs_of_another_rank_names_the_layer():
    # The input spec is min_ndim (as Keras); Keras's compute_output_shape then rejects a
    # rank that does not match the kernel, instead of inventing an output shape.
    with pytest.raises(ValueError, match=r"Conv1D 'conv1d.*rank 3.*\(None, 5, 5, 3\)"):
        layers.Conv1D(2, 3)(gk.Input((5, 5, 3)))
    with pytest.raises(ValueError, match=r"Conv1D .*rank 3.*\(1, 5, 5, 3\)"):
        layers.Conv1D(2, 3)(np.ones((1, 5, 5, 3)))
    with pytest.raises(ValueError, match=r"Conv2D .*rank 4"):
        layers.Conv2D(2, 3).compute_output_shape((None, 5, 3))


@pytest.mark.parametrize("policy", ["float16", "mixed_float16"])
def test_half_precision_conv_on_integer_images_stays_half(policy):
    # Integer inputs are not autocast; as in Keras the conv takes the float16 kernel's
    # dtype, which is also what the layer's symbolic output says.
    images = np.random.default_rng(0).integers(0, 255, size=(2, 4, 4, 1)).astype("uint8")
    layer = layers.Conv2D(2, 3, dtype=policy)
    out = layer(images)
    assert out.dtype == "float16"
    assert layers.Conv2D(2, 3, dtype=policy)(gk.Input((4, 4, 1), dtype="uint8")).dtype == \
        "float16"
    k, b = (w.astype(np.float64) for w in layer.get_weights())
    ref = _conv2d_reference(images.astype(np.float64), k, b, (1, 1), (1, 1), 1)
    np.testing.assert_allclose(np.asarray(out, np.float64), ref, rtol=2e-3, atol=0.5)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_conv2d_keras_parity():
    keras = keras_or_skip()
    x = _x((2, 6, 6, 4)).astype("float32")
    kwargs = dict(filters=4, kernel_size=3, strides=2, padding="same", groups=2)
    k_layer = keras.layers.Conv2D(**kwargs)
    k_out = np.asarray(k_layer(x))
    g_layer = layers.Conv2D(**kwargs)
    g_layer.build(x.shape)
    g_layer.set_weights([w + 0.1 for w in k_layer.get_weights()])
    k_layer.set_weights([w + 0.1 for w in k_layer.get_weights()])
    k_out = np.asarray(k_layer(x))
    np.testing.assert_allclose(np.asarray(g_layer(x)), k_out, rtol=1e-5, atol=1e-5)
    assert set(k_layer.get_config()) == CONV_KEYS
