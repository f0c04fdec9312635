"""SimpleRNN, LSTM, GRU and Bidirectional against NumPy float64 loops, and Keras parity."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers
from tests.layers.keras_reference import keras_or_skip
from tests.layers.layer_checks import assert_config_roundtrip, check_weight_grads


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def _sig(z):
    return 1 / (1 + np.exp(-z))


def _lstm_ref(x, k, rk, b, h=None, c=None):
    u = rk.shape[0]
    h = np.zeros((x.shape[0], u)) if h is None else h
    c = np.zeros((x.shape[0], u)) if c is None else c
    outs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ k + h @ rk + b
        i, f, g, o = _sig(z[:, :u]), _sig(z[:, u:2 * u]), np.tanh(z[:, 2 * u:3 * u]), \
            _sig(z[:, 3 * u:])
        c = f * c + i * g
        h = o * np.tanh(c)
        outs.append(h)
    return np.stack(outs, 1), h, c


def _gru_ref(x, k, rk, b):
    u = rk.shape[0]
    h = np.zeros((x.shape[0], u))
    for t in range(x.shape[1]):
        xi = x[:, t] @ k + b[0]
        hr = h @ rk + b[1]
        z = _sig(xi[:, :u] + hr[:, :u])
        r = _sig(xi[:, u:2 * u] + hr[:, u:2 * u])
        hh = np.tanh(xi[:, 2 * u:] + r * hr[:, 2 * u:])
        h = z * h + (1 - z) * hh
    return h


def _gru_step_ref(x, h, k, rk, b):
    u = rk.shape[0]
    xi, hr = x @ k + b[0], h @ rk + b[1]
    z = _sig(xi[:, :u] + hr[:, :u])
    r = _sig(xi[:, u:2 * u] + hr[:, u:2 * u])
    hh = np.tanh(xi[:, 2 * u:] + r * hr[:, 2 * u:])
    return z, z * h + (1 - z) * hh


def _randomize(layer, seed=1):
    layer.set_weights([_x(w.shape, seed + i) * 0.5 for i, w in enumerate(layer.get_weights())])
    return layer.get_weights()


def test_lstm_weights_and_forward_match_numpy():
    x = _x((2, 5, 3))
    layer = layers.LSTM(4, return_sequences=True, return_state=True, dtype="float64")
    layer.build(x.shape)
    assert [(w.name, w.shape) for w in layer.weights] == [
        ("kernel", (3, 16)), ("recurrent_kernel", (4, 16)), ("bias", (16,))]
    bias = layer.get_weights()[2]
    np.testing.assert_array_equal(bias[4:8], 1.0)  # unit_forget_bias
    np.testing.assert_array_equal(np.delete(bias, np.s_[4:8]), 0.0)
    k, rk, b = _randomize(layer)
    seq, h, c = layer(x)
    ref_seq, ref_h, ref_c = _lstm_ref(x, k, rk, b)
    for got, ref in ((seq, ref_seq), (h, ref_h), (c, ref_c)):
        np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-10, atol=1e-12)
    h0, c0 = _x((2, 4), 7), _x((2, 4), 8)
    seq = layer(x, initial_state=[h0, c0])[0]
    np.testing.assert_allclose(np.asarray(seq), _lstm_ref(x, k, rk, b, h0, c0)[0],
                               rtol=1e-10, atol=1e-12)


def test_gru_and_simple_rnn_match_numpy_and_go_backwards():
    x = _x((2, 4, 3))
    gru = layers.GRU(5, dtype="float64")
    gru.build(x.shape)
    assert [w.shape for w in gru.weights] == [(3, 15), (5, 15), (2, 15)]
    k, rk, b = _randomize(gru)
    np.testing.assert_allclose(np.asarray(gru(x)), _gru_ref(x, k, rk, b), rtol=1e-10)
    rnn = layers.SimpleRNN(2, go_backwards=True, return_sequences=True, dtype="float64")
    rnn.build(x.shape)
    k, rk, b = _randomize(rnn)
    h, expected = np.zeros((2, 2)), []
    for t in reversed(range(4)):
        h = np.tanh(x[:, t] @ k + b + h @ rk)
        expected.append(h)
    np.testing.assert_allclose(np.asarray(rnn(x)), np.stack(expected, 1), rtol=1e-10)


@pytest.mark.parametrize("cls", [layers.SimpleRNN, layers.LSTM, layers.GRU])
def test_trailing_padding_does_not_change_the_last_valid_output(cls):
    x = _x((2, 3, 3))
    padded = np.concatenate([x, _x((2, 2, 3), 5)], axis=1)
    mask = np.array([[1, 1, 1, 0, 0]] * 2, bool)
    layer = cls(4, dtype="float64")
    expected = np.asarray(layer(x))
    np.testing.assert_allclose(np.asarray(layer(padded, mask=mask)), expected, rtol=1e-12)
    assert not np.allclose(np.asarray(layer(padded)), expected)


def test_mask_flows_from_embedding_and_sequences_keep_the_mask():
    embed = layers.Embedding(9, 2, mask_zero=True)
    lstm, gru = layers.LSTM(3, return_sequences=True), layers.GRU(2)

    def model_for(steps):
        tokens = gk.Input(shape=(steps,), dtype="int32")
        seq = lstm(embed(tokens))
        assert seq._keras_mask is not None
        return gk.Model(tokens, gru(seq))

    padded = model_for(4)(np.array([[3, 4, 0, 0]])).numpy()
    exact = model_for(2)(np.array([[3, 4]])).numpy()
    np.testing.assert_allclose(padded, exact, rtol=1e-6)


def test_lstm_gradients_match_finite_differences():
    layer = layers.LSTM(2, return_sequences=True, dtype="float64")
    x = _x((2, 3, 2))
    check_weight_grads(layer, x, _x((2, 3, 2), 4), atol=1e-6)


def test_bidirectional_concat_matches_two_numpy_lstms():
    x = _x((2, 4, 3))
    layer = layers.Bidirectional(layers.LSTM(2, return_sequences=True), dtype="float64")
    layer.build(x.shape)
    weights = _randomize(layer)
    fwd = _lstm_ref(x, *weights[:3])[0]
    bwd = _lstm_ref(x[:, ::-1], *weights[3:])[0][:, ::-1]
    y = np.asarray(layer(x))
    np.testing.assert_allclose(y, np.concatenate([fwd, bwd], -1), rtol=1e-5, atol=1e-6)
    assert layer.compute_output_shape((None, 4, 3)) == (None, 4, 4)
    clone = assert_config_roundtrip(layer)
    assert clone.backward_layer.go_backwards


def test_rnn_configs_have_keras_keys():
    keys = {"name", "trainable", "dtype", "return_sequences", "return_state", "go_backwards",
            "stateful", "unroll", "zero_output_for_mask", "units", "activation",
            "recurrent_activation", "use_bias", "kernel_initializer", "recurrent_initializer",
            "bias_initializer", "unit_forget_bias", "kernel_regularizer",
            "recurrent_regularizer", "bias_regularizer", "activity_regularizer",
            "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
            "recurrent_dropout", "seed"}
    assert_config_roundtrip(layers.LSTM(3, return_sequences=True), keys)
    assert_config_roundtrip(layers.GRU(3), keys - {"unit_forget_bias"} | {"reset_after"})
    with pytest.raises(ValueError, match="LSTM 'lstm.*`units`|`units`"):
        layers.LSTM(0)


@pytest.mark.parametrize("name", ["SimpleRNNCell", "LSTMCell", "GRUCell"])
def test_cell_configs_keep_the_seed(name):
    # As Keras 3: every cell's config has `seed` (only the SimpleRNN layer's lacks it).
    cell = getattr(layers, name)(3, dropout=0.2, seed=7)
    assert cell.get_config()["seed"] == 7
    assert assert_config_roundtrip(cell).seed == 7


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_positional_arguments_follow_keras_order(name):
    # Keras: RNN(units, activation, ...); `return_sequences` comes much later.
    x = _x((2, 4, 3))
    layer = getattr(layers, name)(2, "relu", dtype="float64")
    assert layer.cell.activation is gk.activations.relu
    assert not layer.return_sequences
    assert layer(x).shape == (2, 2)
    k, rk = layer.cell.kernel.numpy(), layer.cell.recurrent_kernel.numpy()
    if name == "SimpleRNN":  # relu, not tanh, is what the layer computes
        h = np.zeros((2, 2))
        for t in range(4):
            h = np.maximum(x[:, t] @ k + h @ rk + layer.cell.bias.numpy(), 0)
        np.testing.assert_allclose(np.asarray(layer(x)), h, rtol=1e-12)
    with pytest.raises(TypeError, match="multiple values for argument 'activation'"):
        getattr(layers, name)(2, "relu", activation="tanh")


def test_lstm_and_gru_take_keras_positional_and_use_cudnn_arguments():
    lstm = layers.LSTM(3, "tanh", "hard_sigmoid", False)
    assert lstm.cell.recurrent_activation is gk.activations.hard_sigmoid
    assert not lstm.cell.use_bias
    gru = layers.GRU(3, use_cudnn=False)
    assert gru.get_config()["reset_after"] is True and "use_cudnn" not in gru.get_config()


@pytest.mark.parametrize("name, n_states", [("LSTM", 2), ("GRU", 1), ("SimpleRNN", 1)])
def test_bad_initial_state_mask_and_feature_size_name_the_layer_and_argument(name, n_states):
    x = _x((2, 5, 3))
    layer = getattr(layers, name)(4)
    with pytest.raises(ValueError, match=rf"{name} '.*`initial_state\[0\]` must have shape "
                                         r"\(batch, 4\).*Received: .*\(2, 3\)"):
        layer(x, initial_state=[np.zeros((2, 3))] * n_states)
    with pytest.raises(ValueError, match=r"initial_state\[0\].*\(3, 4\)"):
        layer(x, initial_state=[np.zeros((3, 4))] * n_states)
    layer(x, initial_state=[np.zeros((2, 4))] * n_states)
    with pytest.raises(ValueError, match=rf"layer '{layer.name}'.*axis -1.*value 3.*"
                                         r"\(2, 5, 4\)"):
        layer(_x((2, 5, 4)))
    with pytest.raises(ValueError, match=rf"{name} '.*the mask must have shape \(batch, "
                                         r"timesteps\) = \(2, 5\).*\(2, 4\)"):
        layer(x, mask=np.ones((2, 4), bool))


def test_one_state_cells_take_a_bare_state_tensor():
    # Keras: `states[0] if nested else states`; indexing a bare tensor would take row 0.
    x, h = _x((3, 4)), _x((3, 5), 1)
    cell = layers.SimpleRNNCell(5, dtype="float64")
    cell.build(x.shape)
    _randomize(cell)
    out, state = cell(x, h)
    ref = np.tanh(x @ cell.kernel.numpy() + h @ cell.recurrent_kernel.numpy()
                  + cell.bias.numpy())
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(state), ref, rtol=1e-12)
    gru = layers.GRUCell(5, dtype="float64")
    gru.build(x.shape)
    weights = _randomize(gru)
    out, state = gru(x, h)
    assert state.shape == (3, 5)
    _, ref_h = _gru_step_ref(x, h, *weights)
    np.testing.assert_allclose(np.asarray(out), ref_h, rtol=1e-12)
    with pytest.raises(ValueError, match="LSTMCell .*`states` must be a list of 2"):
        layers.LSTMCell(5)(x, h)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", ["LSTM", "GRU", "SimpleRNN"])
def test_keras_parity(name):
    keras = keras_or_skip()
    x = _x((2, 5, 3)).astype("float32")
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], bool)
    k_layer = getattr(keras.layers, name)(4, return_sequences=True)
    k_layer.build(x.shape)
    k_layer.set_weights([w + 0.1 for w in k_layer.get_weights()])
    g_layer = getattr(layers, name)(4, return_sequences=True)
    g_layer.build(x.shape)
    assert [w.shape for w in g_layer.weights] == [tuple(w.shape) for w in k_layer.weights]
    g_layer.set_weights(k_layer.get_weights())
    np.testing.assert_allclose(np.asarray(g_layer(x, mask=mask)),
                               np.asarray(k_layer(x, mask=mask)), rtol=1e-5, atol=1e-5)
    assert set(g_layer.get_config()) == set(k_layer.get_config())


@pytest.mark.parametrize("rnn", ["SimpleRNN", "LSTM", "GRU"])
def test_bidirectional_sequences_are_zero_at_masked_steps(rnn):
    tok = np.array([[3, 5, 2, 0, 0], [2, 7, 0, 3, 0]], "int32")
    i = gk.Input((5,), dtype="int32")
    e = layers.Embedding(10, 3, mask_zero=True)(i)
    fw, bw = gk.Model(i, layers.Bidirectional(
        getattr(layers, rnn)(2, return_sequences=True), merge_mode=None)(e))(tok)
    for out in (np.asarray(fw), np.asarray(bw)):
        assert np.all(out[tok == 0] == 0)
        assert np.all(np.abs(out[tok != 0]).sum(-1) > 0)


@pytest.mark.parametrize("cls, cell", [("SimpleRNN", "simple_rnn_cell"), ("LSTM", "lstm_cell"),
                                       ("GRU", "gru_cell")])
def test_cell_name_is_not_numbered_per_instance(cls, cell):
    # Keras's weight paths: `lstm_3/lstm_cell/kernel` however many LSTMs exist.
    for _ in range(2):
        layer = getattr(layers, cls)(2)
        layer.build((1, 3, 4))
        assert layer.cell.name == cell
        assert all(w.path.split("/")[-2] == cell for w in layer.weights)
