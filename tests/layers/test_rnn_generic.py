"""RNN over any cell (graphkit's, a user's, a list of them) and StackedRNNCells, against
NumPy float64 references."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers, ops, saving
from tests.layers.layer_checks import (assert_config_roundtrip, check_compiled_predict,
                                       check_weight_grads)

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 4, 2))
LENGTHS = np.array([4, 2, 1])
MASK = np.arange(4)[None, :] < LENGTHS[:, None]


@saving.register_keras_serializable(package="tests")
class MinimalRNNCell(gk.Layer):
    """The cell of Keras's RNN guide: `h = tanh(x K + h U)`, one state."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                name="recurrent_kernel")

    def call(self, inputs, states):
        h = ops.tanh(ops.matmul(inputs, self.kernel) +
                     ops.matmul(states[0], self.recurrent_kernel))
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class TwoStateCell(gk.Layer):
    """Two states of sizes 3 and 2, an output of size 4, the states returned as a tuple."""

    state_size = [3, 2]
    output_size = 4

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1] + 5, 9), name="w")

    def call(self, inputs, states):
        z = ops.matmul(ops.concatenate([inputs, states[0], states[1]], axis=-1), self.w)
        return ops.tanh(z[:, :4]), (ops.sin(z[:, 4:7]), ops.cos(z[:, 7:9]))


def _minimal_step(kernel, recurrent_kernel):
    def step(x, states):
        h = np.tanh(x @ kernel + states[0] @ recurrent_kernel)
        return h, [h]
    return step


def _two_state_step(w):
    def step(x, states):
        z = np.concatenate([x, states[0], states[1]], -1) @ w
        return np.tanh(z[:, :4]), [np.sin(z[:, 4:7]), np.cos(z[:, 7:9])]
    return step


def _unroll(step, x, states, mask=None, backwards=False, zero_output=False):
    """Keras's loop: masked steps keep the states and repeat the last output (or give
    zeros with `zero_output_for_mask`). Returns (outputs in step order, last, states)."""
    output, outputs = None, []
    for t in (range(x.shape[1] - 1, -1, -1) if backwards else range(x.shape[1])):
        out, new = step(x[:, t], states)
        output = np.zeros_like(out) if output is None else output
        keep = np.ones((len(x), 1), bool) if mask is None else mask[:, t:t + 1]
        output = np.where(keep, out, output)
        outputs.append(np.where(keep, out, 0.0 if zero_output else output))
        states = [np.where(keep, n, s) for n, s in zip(new, states)]
    return np.stack(outputs, 1), output, states


def _built(layer, shape=X.shape, scale=0.5):
    layer.build(shape)
    layer.set_weights([RNG.normal(size=w.shape) * scale for w in layer.get_weights()])
    return layer


@pytest.mark.parametrize("backwards, zero_output", [(False, False), (True, True)])
def test_user_cell_matches_numpy_with_masks(backwards, zero_output):
    layer = _built(layers.RNN(MinimalRNNCell(3, dtype="float64"), return_sequences=True,
                              return_state=True, go_backwards=backwards,
                              zero_output_for_mask=zero_output, dtype="float64"))
    step = _minimal_step(*layer.get_weights())
    for mask in (None, MASK):
        outputs, h = layer(X, mask=mask)
        ref_outputs, _, ref_states = _unroll(step, X, [np.zeros((3, 3))], mask, backwards,
                                             zero_output)
        np.testing.assert_allclose(np.asarray(outputs), ref_outputs, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(np.asarray(h), ref_states[0], rtol=1e-12, atol=1e-14)


def test_two_states_and_an_output_size_of_its_own():
    layer = _built(layers.RNN(TwoStateCell(dtype="float64"), return_state=True,
                              dtype="float64"))
    out, s1, s2 = layer(X, mask=MASK)
    _, ref_out, ref_states = _unroll(_two_state_step(layer.get_weights()[0]), X,
                                     [np.zeros((3, 3)), np.zeros((3, 2))], MASK)
    for got, ref in zip((out, s1, s2), [ref_out] + ref_states):
        np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-12, atol=1e-14)
    assert layer.compute_output_shape((None, 4, 2)) == [(None, 4), (None, 3), (None, 2)]
    assert [t.shape for t in layer(gk.Input((4, 2)))] == [(None, 4), (None, 3), (None, 2)]


def test_stacked_cells_match_numpy_and_nest_their_states():
    cells = [MinimalRNNCell(3, dtype="float64"), TwoStateCell(dtype="float64")]
    layer = _built(layers.RNN(cells, return_sequences=True, return_state=True,
                              dtype="float64"))
    assert isinstance(layer.cell, layers.StackedRNNCells)
    assert layer.state_size == [3, [3, 2]]
    kernel, recurrent_kernel, w = layer.get_weights()
    first, second = _minimal_step(kernel, recurrent_kernel), _two_state_step(w)

    def stacked(x, states):
        h, [h] = first(x, [states[0]])
        out, pair = second(h, states[1:])
        return out, [h] + pair

    outputs, h, (s1, s2) = layer(X, mask=MASK)
    ref_outputs, _, ref_states = _unroll(stacked, X, [np.zeros((3, 3))] * 2 +
                                         [np.zeros((3, 2))], MASK)
    for got, ref in zip((outputs, h, s1, s2), [ref_outputs] + ref_states):
        np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-12, atol=1e-14)
    assert layer.compute_output_shape((None, 4, 2)) == [
        (None, 4, 4), (None, 3), [(None, 3), (None, 2)]]


def test_graphkit_cells_match_their_layers():
    for cell, rnn in ((layers.LSTMCell(3), layers.LSTM(3, return_state=True)),
                      (layers.GRUCell(3), layers.GRU(3, return_state=True))):
        generic = _built(layers.RNN(cell, return_state=True))
        rnn.build(X.shape)
        rnn.set_weights(generic.get_weights())
        assert [w.path.split("/")[-1] for w in generic.weights] == \
            [w.path.split("/")[-1] for w in rnn.weights]
        for a, b in zip(generic(X, mask=MASK), rnn(X, mask=MASK)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)


def test_weights_are_the_cells_in_keras_order():
    layer = _built(layers.RNN([layers.SimpleRNNCell(3), MinimalRNNCell(2)]))
    assert [w.path for w in layer.weights] == [
        "rnn/stacked_rnn_cells/simple_rnn_cell/kernel",
        "rnn/stacked_rnn_cells/simple_rnn_cell/recurrent_kernel",
        "rnn/stacked_rnn_cells/simple_rnn_cell/bias",
        "rnn/stacked_rnn_cells/minimal_rnn_cell/kernel",
        "rnn/stacked_rnn_cells/minimal_rnn_cell/recurrent_kernel"]


def test_initial_state_nested_as_the_state_size():
    cells = [MinimalRNNCell(3, dtype="float64"), TwoStateCell(dtype="float64")]
    layer = _built(layers.RNN(cells, return_state=True, dtype="float64"))
    init = [RNG.normal(size=(3, 3)), [RNG.normal(size=(3, 3)), RNG.normal(size=(3, 2))]]
    kernel, recurrent_kernel, w = layer.get_weights()

    def stacked(x, states):
        h, [h] = _minimal_step(kernel, recurrent_kernel)(x, [states[0]])
        out, pair = _two_state_step(w)(h, states[1:])
        return out, [h] + pair

    out, h, (s1, s2) = layer(X, initial_state=init)
    _, ref_out, ref_states = _unroll(stacked, X, [init[0]] + init[1])
    for got, ref in zip((out, h, s1, s2), [ref_out] + ref_states):
        np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="'rnn_2'.*expected 3 initial state"):
        layers.RNN([MinimalRNNCell(3), TwoStateCell()], name="rnn_2")(X, initial_state=init[1])
    with pytest.raises(ValueError, match="'r'.*initial_state\\[0\\]. must have shape"):
        layers.RNN(MinimalRNNCell(3), name="r")(X, initial_state=[np.zeros((3, 4))])


def test_weight_gradients_through_a_stack():
    layer = _built(layers.RNN([layers.SimpleRNNCell(2, dtype="float64"),
                               MinimalRNNCell(3, dtype="float64")], return_sequences=True,
                              dtype="float64"))
    check_weight_grads(layer, X, RNG.normal(size=(3, 4, 3)), mask=MASK)


class _NoisyCell(MinimalRNNCell):
    """Adds 1 in training: `training` reaches a cell through the call context."""

    def call(self, inputs, states, training=None):
        h, _ = super().call(inputs, states)
        h = h + 1.0 if training else h
        return h, [h]


def test_training_reaches_cells_and_stacked_dropout_keeps_one_mask_per_sequence():
    layer = _built(layers.RNN(_NoisyCell(2)))
    assert not np.allclose(np.asarray(layer(X, training=True)), np.asarray(layer(X)))
    stacked = _built(layers.RNN([layers.SimpleRNNCell(3, dropout=0.5, seed=1),
                                 MinimalRNNCell(2)], return_sequences=True))
    plain = _built(layers.RNN([layers.SimpleRNNCell(3), MinimalRNNCell(2)],
                              return_sequences=True))
    plain.set_weights(stacked.get_weights())
    x = np.ones((3, 4, 2), "float32")  # equal steps: equal outputs need equal masks
    np.testing.assert_allclose(np.asarray(stacked(x)), np.asarray(plain(x)), rtol=1e-6)
    dropped = np.asarray(stacked(x, training=True))
    assert not np.allclose(dropped, np.asarray(plain(x)))


def test_errors_name_the_layer_and_argument():
    class NoStateSize(gk.Layer):
        def call(self, inputs, states):
            return inputs, states
    with pytest.raises(ValueError, match="'r'.*`state_size`.*None"):
        layers.RNN(NoStateSize(), name="r")
    with pytest.raises(ValueError, match="'s'.*`state_size`"):
        layers.StackedRNNCells([MinimalRNNCell(2), NoStateSize()], name="s")
    with pytest.raises(ValueError, match="'s'.*at least one cell"):
        layers.StackedRNNCells([], name="s")
    with pytest.raises(ValueError, match="'r'.*`call"):
        layers.RNN(object(), name="r")
    with pytest.raises(ValueError, match="'r'.*stateful=True"):
        layers.RNN(MinimalRNNCell(2), stateful=True, name="r")
    with pytest.raises(ValueError, match="'r'.*mask must have shape"):
        layers.RNN(MinimalRNNCell(2), name="r")(X, mask=np.ones((3, 5), bool))


def test_config_roundtrip_serializes_the_cells():
    layer = layers.RNN([layers.LSTMCell(3), MinimalRNNCell(2)], return_sequences=True,
                       go_backwards=True)
    config = layer.get_config()
    assert config["cell"]["class_name"] == "StackedRNNCells"
    clone = assert_config_roundtrip(layer)
    assert [type(c) for c in clone.cell.cells] == [layers.LSTMCell, MinimalRNNCell]
    assert (clone.return_sequences, clone.go_backwards) == (True, True)


def test_saved_model_loads_with_its_weights(tmp_path):
    inputs = gk.Input((4, 2))
    outputs = layers.RNN([layers.GRUCell(3), MinimalRNNCell(2)])(inputs)
    model = gk.Model(inputs, outputs)
    path = str(tmp_path / "rnn.keras")
    model.save(path)
    loaded = saving.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(X.astype("float32"))),
                               np.asarray(model(X.astype("float32"))), rtol=1e-6)


def test_compiled_model_predicts_like_eager():
    inputs = gk.Input((4, 2))
    masked = layers.Masking(0.0)(inputs)
    outputs = layers.RNN([layers.SimpleRNNCell(3), MinimalRNNCell(2)],
                         return_sequences=True)(masked)
    model = gk.Model(inputs, outputs)
    x = (X * MASK[..., None]).astype("float32")
    check_compiled_predict(model, x)
