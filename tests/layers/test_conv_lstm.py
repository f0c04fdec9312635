"""ConvLSTM1D/2D/3D against a NumPy float64 loop of the ConvLSTM equations, finite-difference
gradients, masks, configs, symbolic shapes and errors."""
import itertools

import numpy as np
import pytest

import graphkit as gk
from graphkit import layers
from graphkit.saving import serialization
from tests.layers.layer_checks import (assert_config_roundtrip, check_input_grad,
                                       check_weight_grads)

_LAYERS = {1: layers.ConvLSTM1D, 2: layers.ConvLSTM2D, 3: layers.ConvLSTM3D}


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def _sig(z):
    return 1 / (1 + np.exp(-z))


# -- the reference --------------------------------------------------------------------------

def _pads(n, k, s, d, padding):
    """Keras's (left, right) padding of one axis: 'same' puts the odd element on the right."""
    span = d * (k - 1) + 1
    if padding == "valid":
        return 0, 0
    total = max((-(-n // s) - 1) * s + span - n, 0)
    return total // 2, total - total // 2


def _conv_ref(x, w, strides, padding, dilation):
    """Channels-last N-D convolution by direct summation: x (batch, *spatial, cin), w
    (*kernel, cin, cout)."""
    rank = w.ndim - 2
    pads = [_pads(x.shape[1 + a], w.shape[a], strides[a], dilation[a], padding)
            for a in range(rank)]
    x = np.pad(x, [(0, 0), *pads, (0, 0)])
    spans = [dilation[a] * (w.shape[a] - 1) + 1 for a in range(rank)]
    out_dims = [(x.shape[1 + a] - spans[a]) // strides[a] + 1 for a in range(rank)]
    out = np.zeros((x.shape[0], *out_dims, w.shape[-1]))
    for pos in itertools.product(*[range(n) for n in out_dims]):
        for tap in itertools.product(*[range(k) for k in w.shape[:rank]]):
            idx = tuple(p * s + t * d for p, s, t, d in zip(pos, strides, tap, dilation))
            out[(slice(None), *pos)] += x[(slice(None), *idx)] @ w[tap]
    return out


def _gate_conv(x, w, masks, strides, padding, dilation):
    """conv(x, w); with dropout masks, gate j's output channels convolve x * masks[j]."""
    if masks is None:
        return _conv_ref(x, w, strides, padding, dilation)
    f = w.shape[-1] // 4
    return np.concatenate([_conv_ref(x * masks[j], w[..., j * f:(j + 1) * f], strides,
                                     padding, dilation) for j in range(4)], -1)


def _conv_lstm_ref(x, kernel, recurrent_kernel, bias, strides=None, padding="valid",
                   dilation=None, state=None, go_backwards=False, activation=np.tanh,
                   masks=None, recurrent_masks=None):
    """The ConvLSTM equations over channels-last sequences (batch, steps, *spatial, cin):
    z = conv(x_t, W) + b + conv_same(h, U); i, f, o = sigmoid; c = f c + i act(z_c);
    h = o act(c). Returns (sequence of h, h, c)."""
    rank = kernel.ndim - 2
    strides, dilation = strides or (1,) * rank, dilation or (1,) * rank
    f = recurrent_kernel.shape[-2]
    steps = range(x.shape[1] - 1, -1, -1) if go_backwards else range(x.shape[1])
    h = c = None
    if state is not None:
        h, c = state
    outs = []
    for t in steps:
        z = _gate_conv(x[:, t], kernel, masks, strides, padding, dilation)
        if bias is not None:
            z = z + bias
        if h is None:
            h = c = np.zeros(z.shape[:-1] + (f,))
        z = z + _gate_conv(h, recurrent_kernel, recurrent_masks, (1,) * rank, "same",
                           (1,) * rank)
        i, fg, g, o = (z[..., j * f:(j + 1) * f] for j in range(4))
        c = _sig(fg) * c + _sig(i) * activation(g)
        h = _sig(o) * activation(c)
        outs.append(h)
    return np.stack(outs, 1), h, c


def _randomize(layer, seed=1):
    layer.set_weights([_x(w.shape, seed + i) * 0.4 for i, w in enumerate(layer.get_weights())])
    return layer.get_weights()


def _channels_first(x, rank):
    """(batch, steps, *spatial, c) -> (batch, steps, c, *spatial), or the state form."""
    lead = x.ndim - rank - 1
    return np.moveaxis(x, -1, lead)


# -- forward --------------------------------------------------------------------------------

@pytest.mark.parametrize("rank, shape, kwargs", [
    (1, (2, 3, 7, 2), {"padding": "valid"}),
    (1, (2, 4, 9, 3), {"strides": 2, "padding": "same"}),
    (2, (2, 3, 6, 5, 2), {"kernel_size": (3, 2), "padding": "same"}),
    (2, (2, 3, 7, 7, 2), {"dilation_rate": 2}),
    (2, (2, 3, 6, 5, 2), {"strides": (2, 1), "use_bias": False}),
    (3, (2, 2, 4, 5, 4, 2), {"kernel_size": 2, "padding": "same"}),
    (3, (1, 2, 3, 5, 4, 3), {"kernel_size": (1, 2, 3)}),
])
def test_forward_matches_numpy(rank, shape, kwargs):
    kwargs = {"kernel_size": 3, **kwargs}
    x = _x(shape)
    layer = _LAYERS[rank](3, return_sequences=True, return_state=True, dtype="float64",
                          **kwargs)
    layer.build(x.shape)
    weights = _randomize(layer)
    if not layer.use_bias:
        weights.append(None)
    cell = layer.cell
    ref = _conv_lstm_ref(x, *weights, strides=cell.strides, padding=cell.padding,
                         dilation=cell.dilation_rate)
    got = layer(x)
    for g, r in zip(got, ref):
        assert tuple(g.shape) == r.shape
        np.testing.assert_allclose(np.asarray(g), r, rtol=1e-10, atol=1e-12)
    assert layer.compute_output_shape(x.shape) == [r.shape for r in ref]


def test_weights_keras_layout_and_unit_forget_bias():
    layer = layers.ConvLSTM2D(4, (3, 2))
    layer.build((None, 5, 8, 8, 3))
    assert [(w.name, w.shape) for w in layer.weights] == [
        ("kernel", (3, 2, 3, 16)), ("recurrent_kernel", (3, 2, 4, 16)), ("bias", (16,))]
    assert [w.path for w in layer.weights] == [
        f"{layer.name}/conv_lstm_cell/{n}" for n in ("kernel", "recurrent_kernel", "bias")]
    bias = layer.get_weights()[2]
    np.testing.assert_array_equal(bias[4:8], 1.0)
    np.testing.assert_array_equal(np.delete(bias, np.s_[4:8]), 0.0)
    plain = layers.ConvLSTM2D(4, 3, unit_forget_bias=False)
    plain.build((None, 5, 8, 8, 3))
    assert not plain.get_weights()[2].any()


def test_channels_first_go_backwards_and_initial_state_match_numpy():
    x = _x((2, 3, 5, 4, 2))
    layer = layers.ConvLSTM2D(3, 3, padding="same", data_format="channels_first",
                              go_backwards=True, return_state=True, dtype="float64")
    layer.build(_channels_first(x, 2).shape)
    weights = _randomize(layer)
    h0, c0 = _x((2, 5, 4, 3), 7), _x((2, 5, 4, 3), 8)
    _, ref_h, ref_c = _conv_lstm_ref(x, *weights, padding="same", state=(h0, c0),
                                     go_backwards=True)
    out, h, c = layer(_channels_first(x, 2),
                      initial_state=[_channels_first(h0, 2), _channels_first(c0, 2)])
    for got, ref in ((out, ref_h), (h, ref_h), (c, ref_c)):
        np.testing.assert_allclose(np.asarray(got), _channels_first(ref, 2), rtol=1e-10,
                                   atol=1e-12)


def test_trailing_padding_does_not_change_the_last_valid_output():
    x = _x((2, 3, 5, 2))
    padded = np.concatenate([x, _x((2, 2, 5, 2), 5)], axis=1)
    mask = np.array([[1, 1, 1, 0, 0]] * 2, bool)
    layer = layers.ConvLSTM1D(3, 3, padding="same", dtype="float64")
    expected = np.asarray(layer(x))
    np.testing.assert_allclose(np.asarray(layer(padded, mask=mask)), expected, rtol=1e-12)
    assert not np.allclose(np.asarray(layer(padded)), expected)


def test_masked_steps_repeat_the_output_or_give_zeros():
    x = _x((2, 3, 4, 4, 1))
    mask = np.array([[1, 0, 1], [1, 1, 1]], bool)
    layer = layers.ConvLSTM2D(2, 2, return_sequences=True, dtype="float64")
    seq = np.asarray(layer(x, mask=mask))
    np.testing.assert_array_equal(seq[0, 1], seq[0, 0])
    zeroing = layers.ConvLSTM2D(2, 2, return_sequences=True, zero_output_for_mask=True,
                                dtype="float64")
    zeroing.build(x.shape)
    zeroing.set_weights(layer.get_weights())
    zeros = np.asarray(zeroing(x, mask=mask))
    assert not zeros[0, 1].any()
    np.testing.assert_allclose(zeros[0, 2], seq[0, 2], rtol=1e-12)


def test_dropout_only_in_training():
    x = _x((2, 3, 6, 2)).astype("float32")
    layer = layers.ConvLSTM1D(3, 3, dropout=0.5, recurrent_dropout=0.5, seed=3)
    plain = layers.ConvLSTM1D(3, 3)
    plain.build(x.shape)
    layer.build(x.shape)
    plain.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(layer(x)), np.asarray(plain(x)), rtol=1e-6)
    trained = np.asarray(layer(x, training=True))
    assert trained.shape == (2, 4, 3)
    assert not np.allclose(trained, np.asarray(plain(x)))


# -- gradients ------------------------------------------------------------------------------

@pytest.mark.parametrize("rank, shape", [(1, (2, 3, 5, 2)), (2, (1, 2, 4, 3, 2))])
def test_gradients_match_finite_differences(rank, shape):
    layer = _LAYERS[rank](2, 2, padding="same", return_sequences=True, dtype="float64")
    x = _x(shape)
    layer.build(x.shape)
    _randomize(layer)
    out_shape = layer.compute_output_shape(x.shape)
    check_weight_grads(layer, x, _x(out_shape, 4), atol=1e-6)
    check_input_grad(layer, x.copy(), _x(out_shape, 5))


def test_dropout_masks_are_per_gate_and_per_sequence():
    # As Keras: 4 input masks and 4 recurrent masks (one per gate), drawn once per call and
    # used at every step. Fixed masks (as if drawn) make the result and finite differences
    # deterministic.
    x = _x((2, 3, 5, 2))
    layer = layers.ConvLSTM1D(2, 3, padding="same", return_sequences=True, dropout=0.5,
                              recurrent_dropout=0.5, dtype="float64")
    layer.build(x.shape)
    weights = _randomize(layer)
    masks = [np.random.default_rng(i).integers(0, 2, (2, 5, 2)) * 2.0 for i in range(4)]
    rec = [np.random.default_rng(9 + i).integers(0, 2, (2, 5, 2)) * 2.0 for i in range(4)]
    drawn = layer.cell.dropout_masks
    layer.cell.dropout_masks = lambda x_t, h_t, training: (masks, rec) if training else \
        drawn(x_t, h_t, training)
    ref = _conv_lstm_ref(x, *weights, padding="same", masks=masks, recurrent_masks=rec)[0]
    np.testing.assert_allclose(np.asarray(layer(x, training=True)), ref, rtol=1e-10,
                               atol=1e-12)
    check_weight_grads(layer, x, _x(ref.shape, 4), training=True)
    assert not np.allclose(np.asarray(layer(x)), ref)  # inference: no masks


# -- configs, symbolic shapes, errors --------------------------------------------------------

_KEYS = {"name", "trainable", "dtype", "return_sequences", "return_state", "go_backwards",
         "stateful", "unroll", "zero_output_for_mask", "filters", "kernel_size", "strides",
         "padding", "data_format", "dilation_rate", "activation", "recurrent_activation",
         "use_bias", "kernel_initializer", "recurrent_initializer", "bias_initializer",
         "unit_forget_bias", "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
         "activity_regularizer", "kernel_constraint", "recurrent_constraint",
         "bias_constraint", "dropout", "recurrent_dropout", "seed"}


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_config_roundtrip_has_keras_keys_and_defaults(rank):
    layer = _LAYERS[rank](4, 3, return_sequences=True, dropout=0.25, seed=5,
                          kernel_regularizer="l2")
    config = layer.get_config()
    assert config["kernel_size"] == (3,) * rank and config["strides"] == (1,) * rank
    assert config["activation"] == "tanh" and config["recurrent_activation"] == "sigmoid"
    assert config["recurrent_initializer"]["class_name"] == "Orthogonal"
    assert config["unit_forget_bias"] is True and config["padding"] == "valid"
    assert config["data_format"] == "channels_last"
    clone = assert_config_roundtrip(layer, _KEYS)
    assert clone.cell.seed == 5 and clone.dropout == 0.25 and clone.filters == 4
    restored = serialization.deserialize_keras_object(
        serialization.serialize_keras_object(layer))
    assert type(restored) is type(layer) and restored.get_config() == config


def test_cell_config_roundtrip():
    cell = layers.ConvLSTM2D(3, 2, strides=2).cell
    clone = assert_config_roundtrip(cell)
    assert clone.rank == 2 and clone.strides == (2, 2)


@pytest.mark.parametrize("rank, kwargs, expected", [
    (1, {"return_sequences": True}, (None, 4, 5, 3)),
    (2, {"padding": "same", "strides": 2}, (None, 4, 3, 3)),
    (2, {"data_format": "channels_first", "return_sequences": True}, (None, 4, 3, 5, 4)),
    (3, {}, (None, 1, 5, 4, 3)),
])
def test_symbolic_input_shapes(rank, kwargs, expected):
    spatial = {1: (7,), 2: (7, 6), 3: (3, 7, 6)}[rank]
    inner = (2, *spatial) if kwargs.get("data_format") == "channels_first" else \
        (*spatial, 2)
    inputs = gk.Input((4, *inner))
    layer = _LAYERS[rank](3, 3, return_state=True, **kwargs)
    out, h, c = layer(inputs)
    assert tuple(out.shape) == expected
    state = expected if not kwargs.get("return_sequences") else expected[:1] + expected[2:]
    assert tuple(h.shape) == tuple(c.shape) == state
    model = gk.Model(inputs, out)
    y = model(_x((2, 4, *inner)).astype("float32"))
    assert tuple(y.shape) == (2,) + expected[1:]


def test_bad_input_rank_names_the_layer():
    layer = layers.ConvLSTM2D(2, 3, name="clstm")
    with pytest.raises(ValueError, match="clstm.*expected ndim=5, found ndim=4"):
        layer(np.zeros((2, 3, 5, 5), "float32"))
    with pytest.raises(ValueError, match="ConvLSTM2D 'clstm': expected inputs of rank 5"):
        layer.compute_output_shape((2, 3, 5, 5))
    with pytest.raises(ValueError, match="clstm.*expected ndim=4"):
        layers.ConvLSTM1D(2, 3, name="clstm")(gk.Input((3, 5, 5, 1)))


def test_bad_arguments_and_states_name_the_layer():
    with pytest.raises(ValueError, match="`filters` must be a positive integer"):
        layers.ConvLSTM2D(0, 3)
    with pytest.raises(ValueError, match="`strides` > 1 is not compatible with"):
        layers.ConvLSTM1D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="`padding` must be one of"):
        layers.ConvLSTM1D(2, 3, padding="causal")
    with pytest.raises(ValueError, match="`dropout` must be in"):
        layers.ConvLSTM1D(2, 3, dropout=1.5)
    with pytest.raises(ValueError, match="stateful"):
        layers.ConvLSTM1D(2, 3, stateful=True)
    layer = layers.ConvLSTM2D(2, 3, name="clstm")
    x = np.zeros((2, 3, 5, 5, 1), "float32")
    with pytest.raises(ValueError, match=r"ConvLSTM2D 'clstm'.*`initial_state\[0\]` must "
                                         r"have shape \(2, 3, 3, 2\).*\(2, 5, 5, 2\)"):
        layer(x, initial_state=[np.zeros((2, 5, 5, 2), "float32")] * 2)
    with pytest.raises(ValueError, match="zero or negative"):
        layers.ConvLSTM1D(2, 5)(np.zeros((1, 2, 3, 1), "float32"))
    with pytest.raises(ValueError, match="spatial and channel dimensions .* must be known"):
        layers.ConvLSTM1D(2, 3).build((None, 3, None, 1))
