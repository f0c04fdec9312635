"""Conv1D/2D/3DTranspose, DepthwiseConv1D/2D, SeparableConv1D/2D and Conv3D against direct
NumPy float64 loops written from Keras 3's definitions, plus gradients, configs, saving and
the compiled path."""
import itertools

import numpy as np
import pytest

import graphkit as gk
from graphkit import layers
from tests.layers.layer_checks import (assert_config_roundtrip, check_input_grad,
                                       check_weight_grads)

COMMON_KEYS = {"name", "trainable", "dtype", "kernel_size", "strides", "padding",
               "data_format", "dilation_rate", "activation", "use_bias", "bias_initializer",
               "bias_regularizer", "activity_regularizer", "bias_constraint"}
KERNEL_KEYS = {"kernel_initializer", "kernel_regularizer", "kernel_constraint"}
DEPTHWISE_KEYS = {"depthwise_initializer", "depthwise_regularizer", "depthwise_constraint"}
POINTWISE_KEYS = {"pointwise_initializer", "pointwise_regularizer", "pointwise_constraint"}
# Keras 3's config keys for each layer.
CONFIG_KEYS = {
    "Conv2DTranspose": COMMON_KEYS | KERNEL_KEYS | {"filters", "output_padding"},
    "DepthwiseConv2D": COMMON_KEYS | DEPTHWISE_KEYS | {"depth_multiplier"},
    "SeparableConv2D": COMMON_KEYS | DEPTHWISE_KEYS | POINTWISE_KEYS
    | {"filters", "depth_multiplier"},
    "Conv3D": COMMON_KEYS | KERNEL_KEYS | {"filters", "groups"},
    "Conv3DTranspose": COMMON_KEYS | KERNEL_KEYS | {"filters", "output_padding"},
}


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


# -- NumPy references (channels last, float64) ------------------------------------------

def _same_pads(sizes, kernel, strides, dilation):
    """TF/Keras "same": the extra pixel goes high."""
    pads = []
    for size, k, s, d in zip(sizes, kernel, strides, dilation):
        total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def _conv_reference(x, w, strides, dilation, pads, groups=1):
    """Grouped cross-correlation by a loop over the output positions."""
    n = x.ndim - 2
    xp = np.pad(x, [(0, 0)] + list(pads) + [(0, 0)])
    kernel, (cg, filters) = w.shape[:n], w.shape[n:]
    extent = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    out_sizes = [(xp.shape[1 + i] - extent[i]) // strides[i] + 1 for i in range(n)]
    fg = filters // groups
    out = np.zeros((x.shape[0], *out_sizes, filters))
    for pos in itertools.product(*(range(o) for o in out_sizes)):
        window = tuple(slice(p * s, p * s + e, d)
                       for p, s, e, d in zip(pos, strides, extent, dilation))
        patch = xp[(slice(None),) + window]  # (N, *kernel, C)
        for g in range(groups):
            out[(slice(None),) + pos + (slice(g * fg, (g + 1) * fg),)] = np.tensordot(
                patch[..., g * cg:(g + 1) * cg], w[..., g * fg:(g + 1) * fg],
                axes=n + 1)
    return out


def _depthwise_reference(x, w, strides, dilation, pads):
    """Output channel c * multiplier + m: input channel c alone, with filter w[..., c, m]."""
    channels, multiplier = w.shape[-2:]
    per_channel = [_conv_reference(x[..., c:c + 1], w[..., c:c + 1, :], strides, dilation,
                                   pads) for c in range(channels)]
    return np.concatenate(per_channel, axis=-1)


def _keras_transpose_pads(k, s, d, padding, output_padding):
    """Keras 3 (JAX backend): the (left, right) padding of the stride-dilated inputs."""
    extent = (k - 1) * d + 1
    if padding == "valid":
        extra = max(extent, s) - extent if output_padding is None else output_padding
        return extent - 1, extent - 1 + extra
    if output_padding is None:
        pad_len = s + extent - 2
    else:
        pad_len = extent + extent % 2 - 2 + output_padding
    left = min(pad_len // 2 + pad_len % 2, extent - 1)
    return left, pad_len - left


def _conv_transpose_reference(x, w, strides, dilation, padding, output_padding):
    """Spread the inputs `strides` apart, pad them as Keras does, and correlate with the
    kernel flipped in space, its (filters, in_channels) axes swapped."""
    n = x.ndim - 2
    spread = np.zeros((x.shape[0], *((x.shape[1 + i] - 1) * strides[i] + 1 for i in range(n)),
                       x.shape[-1]))
    spread[(slice(None),) + tuple(slice(None, None, s) for s in strides)] = x
    out_pad = (None,) * n if output_padding is None else output_padding
    pads = [_keras_transpose_pads(w.shape[i], strides[i], dilation[i], padding, out_pad[i])
            for i in range(n)]
    flipped = np.flip(w, axis=tuple(range(n))).swapaxes(-1, -2)
    return _conv_reference(spread, flipped, (1,) * n, dilation, pads)


def _channels_first(x):
    return np.moveaxis(x, -1, 1)


def _set_random_weights(layer, seed=1):
    layer.set_weights([_x(w.shape, seed + i) for i, w in enumerate(layer.get_weights())])
    return layer.get_weights()


# -- Conv1DTranspose / Conv2DTranspose / Conv3DTranspose ------------------------------------------------------

TRANSPOSE_CASES = [  # (rank, kernel, strides, padding, output_padding, dilation)
    (2, (3, 2), (2, 2), "valid", None, (1, 1)),
    (2, (3, 2), (2, 3), "same", None, (1, 1)),
    (2, (2, 4), (2, 3), "same", (0, 2), (1, 1)),  # even kernels: Keras aligns left
    (2, (3, 3), (2, 2), "valid", (1, 0), (1, 1)),
    (2, (2, 3), (1, 1), "same", None, (2, 1)),
    (1, (4,), (3,), "same", (1,), (1,)),
    (1, (1,), (3,), "valid", None, (1,)),  # a kernel shorter than the stride
    (1, (3,), (1,), "valid", (0,), (3,)),
    (3, (3, 2, 2), (2, 1, 3), "same", None, (1, 1, 1)),
    (3, (2, 3, 1), (2, 2, 1), "valid", (1, 0, 0), (1, 1, 1)),
    (3, (2, 2, 2), (1, 1, 1), "same", None, (1, 2, 1)),
]
TRANSPOSE_LAYERS = {1: layers.Conv1DTranspose, 2: layers.Conv2DTranspose,
                    3: layers.Conv3DTranspose}


@pytest.mark.parametrize("rank, kernel, strides, padding, output_padding, dilation",
                         TRANSPOSE_CASES)
def test_conv_transpose_matches_numpy(rank, kernel, strides, padding, output_padding,
                                      dilation):
    x = _x((2, 4, 5, 3)[:rank + 1] + (3,))
    cls = TRANSPOSE_LAYERS[rank]
    layer = cls(4, kernel, strides=strides, padding=padding, output_padding=output_padding,
                dilation_rate=dilation, dtype="float64")
    layer.build(x.shape)
    kernel_w, bias = _set_random_weights(layer)
    assert [w.name for w in layer.weights] == ["kernel", "bias"]
    assert kernel_w.shape == (*kernel, 4, 3)  # (*kernel_size, filters, in_channels)
    expected = _conv_transpose_reference(x, kernel_w, strides, dilation, padding,
                                         output_padding) + bias
    y = np.asarray(layer(x))
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12)
    assert layer.compute_output_shape(x.shape) == expected.shape


def test_conv_transpose_output_lengths_follow_keras():
    # "same" with output_padding=None: size * strides; "valid": (size - 1) * strides +
    # max(kernel extent, strides); with output_padding: Keras's formula.
    assert layers.Conv2DTranspose(2, 3, strides=2, padding="same").compute_output_shape(
        (None, 5, None, 3)) == (None, 10, None, 2)
    assert layers.Conv1DTranspose(2, 1, strides=3).compute_output_shape(
        (4, 5, 3)) == (4, 15, 2)
    assert layers.Conv1DTranspose(2, 2, strides=2, padding="same", output_padding=0)\
        .compute_output_shape((4, 5, 3)) == (4, 8, 2)
    symbolic = layers.Conv2DTranspose(2, 3, strides=2, output_padding=1)(gk.Input((None, 4, 3)))
    assert tuple(symbolic.shape) == (None, None, 10, 2)
    assert layers.Conv3DTranspose(2, (1, 2, 3), strides=(3, 2, 1)).compute_output_shape(
        (None, 2, None, 4, 3)) == (None, 6, None, 6, 2)
    assert layers.Conv3DTranspose(2, 3, strides=2, padding="same", data_format="channels_first")\
        .compute_output_shape((1, 3, 2, 3, None)) == (1, 2, 4, 6, None)


def test_conv_transpose_channels_first_and_activation():
    x = _x((2, 3, 4, 5))
    layer = layers.Conv2DTranspose(2, 3, strides=2, padding="same", activation="relu",
                                   data_format="channels_first", dtype="float64")
    layer.build(x.shape)
    kernel, bias = _set_random_weights(layer)
    y = np.asarray(layer(x))
    expected = _conv_transpose_reference(np.moveaxis(x, 1, -1), kernel, (2, 2), (1, 1),
                                         "same", None) + bias
    np.testing.assert_allclose(y, _channels_first(np.maximum(expected, 0)), rtol=1e-10,
                               atol=1e-12)
    assert layer.compute_output_shape((None, 3, None, 5)) == (None, 2, None, 10)


def test_conv_transpose_gradients_match_finite_differences():
    layer = layers.Conv2DTranspose(2, (2, 3), strides=2, padding="same", output_padding=1,
                                   dtype="float64", bias_initializer="ones")
    x = _x((1, 2, 3, 3))
    check_weight_grads(layer, x, _x((1, 3, 6, 2), 3))
    check_input_grad(layer, x, _x((1, 3, 6, 2), 4))


def test_conv3d_transpose_gradients_match_finite_differences():
    layer = layers.Conv3DTranspose(2, 2, strides=(2, 1, 2), padding="same",
                                   output_padding=(1, 0, 1), dtype="float64",
                                   data_format="channels_first", bias_initializer="ones")
    x = _x((1, 2, 2, 2, 2))
    weights = _x((1, 2, 3, 1, 3), 3)
    check_weight_grads(layer, x, weights)
    check_input_grad(layer, x, weights)


def test_conv_transpose_argument_errors():
    with pytest.raises(ValueError, match="Conv2DTranspose .*`output_padding` must be "
                                         "strictly less than `strides`"):
        layers.Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="`output_padding` must be non-negative"):
        layers.Conv1DTranspose(2, 3, strides=2, output_padding=-1)
    with pytest.raises(ValueError, match="`strides` > 1 is not compatible"):
        layers.Conv1DTranspose(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match=r"`padding` must be one of \['valid', 'same'\]"):
        layers.Conv1DTranspose(2, 3, padding="causal")
    with pytest.raises(ValueError, match="`filters` must be a positive integer"):
        layers.Conv2DTranspose(0, 3)
    with pytest.raises(ValueError, match="channel dimension of the inputs must be known"):
        layers.Conv2DTranspose(2, 3)(gk.Input((4, 4, None)))
    with pytest.raises(ValueError, match=r"Conv1DTranspose .*rank 3"):
        layers.Conv1DTranspose(2, 3).compute_output_shape((None, 5, 5, 3))


# -- DepthwiseConv1D / DepthwiseConv2D ------------------------------------------------------

@pytest.mark.parametrize("rank, strides, padding, dilation", [
    (2, (1, 1), "valid", (1, 1)), (2, (2, 1), "same", (1, 1)), (2, (1, 1), "same", (2, 1)),
    (1, (2,), "valid", (1,)), (1, (1,), "same", (2,))])
def test_depthwise_conv_matches_numpy(rank, strides, padding, dilation):
    x = _x((2, 7, 6)[:rank + 1] + (3,))
    kernel_size = (3, 2)[:rank]
    cls = layers.DepthwiseConv2D if rank == 2 else layers.DepthwiseConv1D
    layer = cls(kernel_size, strides=strides, padding=padding, depth_multiplier=2,
                dilation_rate=dilation, activation="tanh", dtype="float64")
    layer.build(x.shape)
    kernel, bias = _set_random_weights(layer)
    assert [w.name for w in layer.weights] == ["kernel", "bias"]
    assert kernel.shape == (*kernel_size, 3, 2) and bias.shape == (6,)
    pads = (_same_pads(x.shape[1:-1], kernel_size, strides, dilation) if padding == "same"
            else [(0, 0)] * rank)
    expected = np.tanh(_depthwise_reference(x, kernel, strides, dilation, pads) + bias)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-10, atol=1e-12)
    assert layer.compute_output_shape(x.shape) == expected.shape


def test_depthwise_conv_channels_first_and_symbolic_shapes():
    x = _x((2, 3, 5, 5))
    layer = layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2,
                                   data_format="channels_first", dtype="float64")
    layer.build(x.shape)
    kernel, bias = _set_random_weights(layer)
    expected = _depthwise_reference(np.moveaxis(x, 1, -1), kernel, (1, 1), (1, 1),
                                    [(1, 1), (1, 1)]) + bias
    np.testing.assert_allclose(np.asarray(layer(x)), _channels_first(expected), rtol=1e-10)
    assert layer.compute_output_shape((None, 3, None, 5)) == (None, 6, None, 5)
    out = layers.DepthwiseConv1D(3, strides=2, depth_multiplier=3)(gk.Input((None, 4)))
    assert tuple(out.shape) == (None, None, 12)


def test_depthwise_conv_gradients_and_errors():
    layer = layers.DepthwiseConv2D(2, strides=2, depth_multiplier=2, dtype="float64",
                                   bias_initializer="ones")
    check_weight_grads(layer, _x((1, 4, 5, 3)), _x((1, 2, 2, 6), 3))
    with pytest.raises(ValueError, match="DepthwiseConv2D .*`depth_multiplier` must be a "
                                         "positive integer"):
        layers.DepthwiseConv2D(3, depth_multiplier=0)
    with pytest.raises(ValueError, match=r"DepthwiseConv1D .*zero or negative"):
        layers.DepthwiseConv1D(5)(np.ones((1, 4, 2)))
    with pytest.raises(ValueError, match="`padding` must be one of"):
        layers.DepthwiseConv1D(3, padding="causal")


# -- SeparableConv1D / SeparableConv2D ------------------------------------------------------

@pytest.mark.parametrize("rank, strides, padding, dilation, data_format", [
    (2, (1, 1), "valid", (1, 1), "channels_last"), (2, (2, 2), "same", (1, 1), "channels_last"),
    (2, (1, 1), "same", (1, 2), "channels_first"), (1, (2,), "valid", (1,), "channels_last"),
    (1, (1,), "same", (2,), "channels_first")])
def test_separable_conv_matches_numpy(rank, strides, padding, dilation, data_format):
    x = _x((2, 7, 6)[:rank + 1] + (3,))
    kernel_size = (3, 2)[:rank]
    cls = layers.SeparableConv2D if rank == 2 else layers.SeparableConv1D
    layer = cls(4, kernel_size, strides=strides, padding=padding, depth_multiplier=2,
                dilation_rate=dilation, data_format=data_format, dtype="float64")
    inputs = x if data_format == "channels_last" else _channels_first(x)
    layer.build(inputs.shape)
    depthwise, pointwise, bias = _set_random_weights(layer)
    assert [w.name for w in layer.weights] == ["depthwise_kernel", "pointwise_kernel", "bias"]
    assert depthwise.shape == (*kernel_size, 3, 2)
    assert pointwise.shape == (1,) * rank + (6, 4)
    pads = (_same_pads(x.shape[1:-1], kernel_size, strides, dilation) if padding == "same"
            else [(0, 0)] * rank)
    expected = _depthwise_reference(x, depthwise, strides, dilation, pads) @ pointwise.reshape(
        6, 4) + bias
    if data_format == "channels_first":
        expected = _channels_first(expected)
    np.testing.assert_allclose(np.asarray(layer(inputs)), expected, rtol=1e-10, atol=1e-12)
    assert layer.compute_output_shape(inputs.shape) == expected.shape


def test_separable_conv_gradients_shapes_and_errors():
    layer = layers.SeparableConv1D(2, 3, depth_multiplier=2, dtype="float64",
                                   bias_initializer="ones")
    check_weight_grads(layer, _x((2, 5, 3)), _x((2, 3, 2), 3))
    assert layers.SeparableConv2D(5, 3, strides=2, padding="same").compute_output_shape(
        (None, None, 7, 3)) == (None, None, 4, 5)
    without_bias = layers.SeparableConv2D(5, 3, use_bias=False)
    without_bias.build((1, 4, 4, 2))
    assert [w.name for w in without_bias.weights] == ["depthwise_kernel", "pointwise_kernel"]
    with pytest.raises(ValueError, match=r"SeparableConv2D .*zero or negative"):
        layers.SeparableConv2D(2, 3)(gk.Input((2, 5, 3)))
    with pytest.raises(ValueError, match="Unrecognized keyword.*kernel_initializer"):
        layers.SeparableConv2D(2, 3, kernel_initializer="zeros")  # not one of its weights


# -- Conv3D ---------------------------------------------------------------------------------

@pytest.mark.parametrize("strides, padding, dilation, groups", [
    ((1, 1, 1), "valid", (1, 1, 1), 1), ((2, 1, 2), "same", (1, 1, 1), 2),
    ((1, 1, 1), "valid", (2, 1, 1), 1)])
def test_conv3d_matches_numpy(strides, padding, dilation, groups):
    x = _x((2, 5, 4, 5, 4))
    layer = layers.Conv3D(6, (2, 3, 2), strides=strides, padding=padding,
                          dilation_rate=dilation, groups=groups, dtype="float64")
    layer.build(x.shape)
    kernel, bias = _set_random_weights(layer)
    assert kernel.shape == (2, 3, 2, 4 // groups, 6)
    pads = (_same_pads(x.shape[1:-1], (2, 3, 2), strides, dilation) if padding == "same"
            else [(0, 0)] * 3)
    expected = _conv_reference(x, kernel, strides, dilation, pads, groups) + bias
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-10, atol=1e-12)
    assert layer.compute_output_shape(x.shape) == expected.shape


def test_conv3d_channels_first_gradients_and_shapes():
    layer = layers.Conv3D(2, 2, data_format="channels_first", dtype="float64",
                          bias_initializer="ones")
    check_weight_grads(layer, _x((1, 3, 3, 4, 3)), _x((1, 2, 2, 3, 2), 3))
    assert layer.compute_output_shape((None, 3, None, 4, 3)) == (None, 2, None, 3, 2)
    with pytest.raises(ValueError, match=r"Conv3D .*rank 5"):
        layer.compute_output_shape((None, 3, 4, 3))


# -- configs, saving and the compiled path --------------------------------------------------

CONFIG_LAYERS = [
    lambda: layers.Conv2DTranspose(3, 3, strides=2, padding="same", output_padding=1,
                                   kernel_regularizer="l2"),
    lambda: layers.DepthwiseConv2D(3, depth_multiplier=2, depthwise_constraint="non_neg"),
    lambda: layers.SeparableConv2D(4, 3, pointwise_initializer="ones"),
    lambda: layers.Conv3D(4, 3, groups=2),
    lambda: layers.Conv3DTranspose(4, (1, 2, 3), strides=(1, 2, 3), output_padding=(0, 1, 2),
                                   data_format="channels_first"),
]


@pytest.mark.parametrize("make", CONFIG_LAYERS)
def test_config_round_trip_with_keras_keys(make):
    layer = make()
    clone = assert_config_roundtrip(layer, CONFIG_KEYS[type(layer).__name__])
    assert clone.kernel_size == layer.kernel_size
    assert clone.get_config()["strides"] == layer.strides


def test_config_keeps_each_weights_options():
    layer = assert_config_roundtrip(
        layers.SeparableConv1D(2, 3, depthwise_initializer="ones", pointwise_regularizer="l1",
                               bias_constraint="non_neg"))
    assert type(layer.depthwise_initializer).__name__ == "Ones"
    assert layer.pointwise_regularizer is not None and layer.bias_constraint is not None
    assert layer.depthwise_regularizer is None
    assert assert_config_roundtrip(layers.Conv1DTranspose(2, 3)).output_padding is None


def _model_with_every_layer():
    inputs = gk.Input((6, 6, 3))
    x = layers.Conv2DTranspose(4, 3, strides=2, padding="same", output_padding=1,
                               activation="relu")(inputs)
    x = layers.DepthwiseConv2D(3, strides=2, depth_multiplier=2)(x)
    x = layers.SeparableConv2D(4, 3, padding="same", data_format="channels_first")(x)
    x = layers.Reshape((5, 8, 4, 1))(x)
    x = layers.Conv3D(2, 2)(x)
    x = layers.Reshape((4 * 7, 3 * 2))(x)
    x = layers.Conv1DTranspose(3, 2, strides=2)(x)
    x = layers.DepthwiseConv1D(3, padding="same")(x)
    x = layers.SeparableConv1D(2, 3, strides=2)(x)
    return gk.Model(inputs, layers.Dense(1)(layers.Flatten()(x)))


def test_model_with_the_layers_saves_and_loads(tmp_path):
    model = _model_with_every_layer()
    x = _x((2, 6, 6, 3)).astype("float32")
    model.save(tmp_path / "convs.keras")
    loaded = gk.models.load_model(tmp_path / "convs.keras")
    assert [type(l).__name__ for l in loaded.layers] == [type(l).__name__ for l in model.layers]
    for a, b in zip(model.weights, loaded.weights):
        assert a.path == b.path
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)


def test_compiled_model_predicts_and_trains_like_eager():
    model = _model_with_every_layer()
    x = _x((4, 6, 6, 3)).astype("float32")
    gk.debugging.compare(model, x).assert_close()
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)  # every kernel native
    np.testing.assert_allclose(model.predict(x, verbose=0), np.asarray(model(x)),
                               rtol=1e-5, atol=1e-5)
    history = model.fit(x, _x((4, 1), 1).astype("float32"), epochs=2, batch_size=4,
                        verbose=0)
    assert model.train_function.is_compiled and model.predict_function.is_compiled
    assert np.all(np.isfinite(history.history["loss"]))
