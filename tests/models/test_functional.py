"""Functional models: Input, KerasTensor, graph recording, running, masks and input checks."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers, ops


def _data(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def _dense_np(layer, x):
    return x.astype("float64") @ layer.kernel.numpy() + layer.bias.numpy()


# -- Input and KerasTensor ----------------------------------------------------------------------

def test_input_makes_a_named_keras_tensor():
    x = gk.Input(shape=(3,), name="features")
    assert isinstance(x, gk.KerasTensor)
    assert x.shape == (None, 3) and x.dtype == "float32" and x.ndim == 2
    assert x.name == "features"
    y = gk.Input(shape=(2, 5), batch_size=8, dtype="int32")
    assert y.shape == (8, 2, 5) and y.dtype == "int32" and y.name == "input_layer"
    assert gk.Input(batch_shape=(None, 4)).shape == (None, 4)


def test_input_argument_errors():
    with pytest.raises(ValueError, match="shape"):
        gk.Input()
    with pytest.raises(ValueError, match="not both"):
        gk.Input(shape=(3,), batch_shape=(None, 3))
    with pytest.raises(ValueError, match="sparse"):
        gk.Input(shape=(3,), sparse=True)
    with pytest.raises(ValueError, match="InputLayer.*ragged=True"):
        gk.Input(shape=(3,), ragged=True)


def test_input_takes_kerass_ragged_argument_and_config():
    # Keras's order: shape, batch_size, dtype, sparse, ragged, batch_shape, name.
    x = gk.Input((3,), None, "int32", False, False, None, "ids")
    assert x.shape == (None, 3) and x.dtype == "int32" and x.name == "ids"
    # A Keras 3 InputLayer config has `ragged`: it loads, and graphkit's config has it too.
    config = {"batch_shape": [None, 5, 4], "dtype": "float32", "sparse": False,
              "ragged": False, "name": "input_layer", "optional": False}
    layer = layers.InputLayer.from_config(config)
    assert layer.output.shape == (None, 5, 4)
    assert layer.get_config() == config


@pytest.mark.parametrize("action, what", [
    (lambda t: np.asarray(t), "NumPy array"),
    (lambda t: t.numpy(), ".numpy()"),
    (lambda t: bool(t), "Python bool"),
    (lambda t: [v for v in t], "iterating"),
    (lambda t: float(t), "Python float"),
    (lambda t: f"{t:.3f}", "format spec"),
    (lambda t: 1.0 in t, "membership"),
])
def test_keras_tensor_refuses_data_access_and_names_itself(action, what):
    x = gk.Input(shape=(3,), name="pixels")
    h = layers.Dense(2, name="hidden")(x)
    with pytest.raises(TypeError) as e:
        action(h)
    msg = str(e.value)
    assert h.name in msg and "made by layer 'hidden'" in msg and what in msg
    assert "gk.Model(inputs, outputs)" in msg


def test_ops_on_keras_tensors_infer_shapes_and_become_nodes():
    a = gk.Input(shape=(4,), name="a")
    b = gk.Input(shape=(1,), name="b")
    c = ops.add(ops.exp(a), b * 2.0)
    assert c.shape == (None, 4) and c.dtype == "float32"
    model = gk.Model([a, b], c)
    assert [op.name for op in model.operations] == ["a", "b", "exp", "multiply", "add"]
    xa, xb = _data(2, 4), _data(2, 1, seed=1)
    np.testing.assert_allclose(model([xa, xb]).numpy(), np.exp(xa) + 2 * xb, rtol=1e-6)


def test_symbolic_shape_errors_name_the_op():
    a = gk.Input(shape=(4,))
    with pytest.raises(ValueError, match="add"):
        ops.add(a, gk.Input(shape=(3,)))


def test_layer_input_and_output_come_from_the_first_symbolic_call():
    dense = layers.Dense(2)
    with pytest.raises(AttributeError, match="never been called"):
        dense.output
    x1, x2 = gk.Input(shape=(3,)), gk.Input(shape=(3,))
    y1 = dense(x1)
    dense(x2)
    assert dense.input is x1 and dense.output is y1
    assert len(dense._inbound_nodes) == 2


def test_symbolic_call_of_a_stateful_layer_leaves_state_alone():
    class Counter(gk.Layer):
        def build(self, shape):
            self.n = self.add_weight(shape=(), initializer="zeros", trainable=False)

        def call(self, x):
            self.n.assign_add(1.0)
            return x * 2.0
    layer = Counter()
    y = layer(gk.Input(shape=(2,)))
    assert y.shape == (None, 2) and float(layer.n.numpy()) == 0.0


# -- topologies -----------------------------------------------------------------------------------

def test_multi_input_multi_output_model():
    text = gk.Input(shape=(6,), name="text")
    meta = gk.Input(shape=(2,), name="meta")
    d_text, d_meta = layers.Dense(4, name="d_text"), layers.Dense(4, name="d_meta")
    joined = layers.Concatenate(name="join")([d_text(text), d_meta(meta)])
    score = layers.Dense(1, name="score")(joined)
    label = layers.Dense(3, name="label")(joined)
    model = gk.Model(inputs=[text, meta], outputs=[score, label])
    xt, xm = _data(5, 6), _data(5, 2, seed=1)
    out_score, out_label = model([xt, xm])
    hidden = np.concatenate([_dense_np(d_text, xt), _dense_np(d_meta, xm)], axis=1)
    np.testing.assert_allclose(out_score.numpy(), _dense_np(model.get_layer("score"), hidden),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out_label.numpy(), _dense_np(model.get_layer("label"), hidden),
                               rtol=1e-5, atol=1e-6)
    assert model.output_names == ["score", "label"]
    assert [x.name for x in model.inputs] == ["text", "meta"]
    # A dict of data keyed by input name works for list inputs too.
    by_name = model({"meta": xm, "text": xt})
    np.testing.assert_allclose(by_name[0].numpy(), out_score.numpy())


def test_dict_inputs_and_outputs():
    inputs = {"x": gk.Input(shape=(2,), name="x"), "y": gk.Input(shape=(2,), name="y")}
    outputs = {"sum": ops.add(inputs["x"], inputs["y"]),
               "diff": ops.subtract(inputs["x"], inputs["y"])}
    model = gk.Model(inputs, outputs)
    x, y = _data(3, 2), _data(3, 2, seed=1)
    out = model({"x": x, "y": y})
    np.testing.assert_allclose(out["sum"].numpy(), x + y)
    np.testing.assert_allclose(out["diff"].numpy(), x - y)
    with pytest.raises(ValueError, match="missing data for input 'y'"):
        model({"x": x})


@pytest.mark.parametrize("dict_inputs", [True, False])
def test_data_under_a_key_no_input_has_is_ignored_with_a_warning(dict_inputs):
    # As Keras: a misspelled input name must not pass silently.
    x_in, y_in = gk.Input(shape=(2,), name="x"), gk.Input(shape=(2,), name="y")
    model = gk.Model({"x": x_in, "y": y_in} if dict_inputs else [x_in, y_in],
                     ops.subtract(x_in, y_in))
    x, y = _data(3, 2), _data(3, 2, seed=1)
    with pytest.warns(UserWarning, match=r"keys \['y_extra'\] that match no input"):
        out = model({"x": x, "y": y, "y_extra": y})
    np.testing.assert_allclose(out.numpy(), x - y)


def test_a_list_for_dict_inputs_is_taken_in_key_order_with_a_warning():
    """As Keras: unambiguous only when the dict's keys were sorted; else an error."""
    x, y = _data(3, 2), _data(3, 2, seed=1)
    inputs = {"x": gk.Input(shape=(2,), name="x"), "y": gk.Input(shape=(2,), name="y")}
    model = gk.Model(inputs, ops.subtract(inputs["x"], inputs["y"]))
    with pytest.warns(UserWarning, match=r"dict of inputs \['x', 'y'\]; the values are taken"):
        out = model([x, y])
    np.testing.assert_allclose(out.numpy(), x - y)
    unsorted = {"y": gk.Input(shape=(2,), name="y"), "x": gk.Input(shape=(2,), name="x")}
    model = gk.Model(unsorted, ops.subtract(unsorted["x"], unsorted["y"]))
    with pytest.raises(ValueError, match="expects 2 input"):
        model([x, y])


def test_siamese_shared_layer_shares_weights():
    left, right = gk.Input(shape=(5,), name="left"), gk.Input(shape=(5,), name="right")
    encoder = layers.Dense(3, name="encoder")
    distance = ops.sum(ops.abs(encoder(left) - encoder(right)), axis=-1)
    model = gk.Model([left, right], distance)
    assert len(model.weights) == 2  # one kernel and one bias, used twice
    xl, xr = _data(4, 5), _data(4, 5, seed=1)
    expected = np.abs(_dense_np(encoder, xl) - _dense_np(encoder, xr)).sum(-1)
    np.testing.assert_allclose(model([xl, xr]).numpy(), expected, rtol=1e-5)
    # Gradients from both branches add up on the shared kernel.
    with gk.GradientTape() as tape:
        loss = ops.sum(model([xl, xr]))
    g_kernel = tape.gradient(loss, encoder.kernel).numpy()
    s = np.sign(_dense_np(encoder, xl) - _dense_np(encoder, xr))
    np.testing.assert_allclose(g_kernel, xl.T @ s - xr.T @ s, rtol=1e-5, atol=1e-6)


def test_residual_connection():
    x = gk.Input(shape=(4,))
    h = layers.Dense(4, activation="relu", name="h")(x)
    out = layers.Add(name="residual")([x, layers.Dense(4, name="proj")(h)])
    model = gk.Model(x, out)
    data = _data(3, 4)
    h_np = np.maximum(_dense_np(model.get_layer("h"), data), 0)
    expected = data + _dense_np(model.get_layer("proj"), h_np.astype("float32"))
    np.testing.assert_allclose(model(data).numpy(), expected, rtol=1e-5, atol=1e-6)
    assert set(model.graph.predecessors("residual")) == {"proj", model.layers[0].name}


def test_nested_encoder_decoder_models():
    enc_in = gk.Input(shape=(8,), name="enc_in")
    encoder = gk.Model(enc_in, layers.Dense(3, name="code")(enc_in), name="encoder")
    dec_in = gk.Input(shape=(3,), name="dec_in")
    decoder = gk.Model(dec_in, layers.Dense(8, name="recon")(dec_in), name="decoder")
    x = gk.Input(shape=(8,), name="x")
    autoencoder = gk.Model(x, decoder(encoder(x)), name="autoencoder")
    assert [l.name for l in autoencoder.layers] == ["x", "encoder", "decoder"]
    assert len(autoencoder.weights) == 4
    data = _data(2, 8)
    code = _dense_np(encoder.get_layer("code"), data).astype("float32")
    expected = _dense_np(decoder.get_layer("recon"), code)
    np.testing.assert_allclose(autoencoder(data).numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(encoder(data).numpy(), code, rtol=1e-5, atol=1e-6)


def test_sub_model_from_intermediate_tensors_shares_layers():
    x = gk.Input(shape=(4,))
    h = layers.Dense(3, name="first")(x)
    y = layers.Dense(2, name="second")(h)
    full = gk.Model(x, y)
    head = gk.Model(h, y)
    assert head.get_layer("second") is full.get_layer("second")
    data = _data(2, 3)
    np.testing.assert_allclose(head(data).numpy(),
                               _dense_np(full.get_layer("second"), data), rtol=1e-5)
    assert len(full.get_layer("second")._inbound_nodes) == 2
    np.testing.assert_allclose(full(_data(1, 4)).shape, (1, 2))


def test_training_flag_reaches_layers_inside_the_model():
    x = gk.Input(shape=(100,))
    model = gk.Model(x, layers.Dropout(0.5)(x))
    data = np.ones((4, 100), "float32")
    np.testing.assert_array_equal(model(data).numpy(), data)
    dropped = model(data, training=True).numpy()
    assert 0.3 < np.mean(dropped == 0) < 0.7


def test_add_loss_inside_a_functional_model_is_collected_per_call():
    class ActivityReg(gk.Layer):
        def call(self, inputs):
            self.add_loss(ops.sum(inputs))
            return inputs
    x = gk.Input(shape=(2,))
    model = gk.Model(x, ActivityReg()(x))
    assert model.losses == []  # the symbolic call adds no loss
    model(np.ones((1, 2), "float32"))
    assert [float(v) for v in model.losses] == [2.0]
    model(np.full((1, 2), 3.0, "float32"))
    assert [float(v) for v in model.losses] == [6.0]


# -- masks ----------------------------------------------------------------------------------------

class MaskedMean(gk.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, x, mask=None):
        if mask is None:
            return ops.mean(x, axis=1)
        w = ops.expand_dims(ops.cast(mask, x.dtype), -1)
        return ops.sum(x * w, axis=1) / ops.sum(w, axis=1)

    def compute_mask(self, inputs, previous_mask):
        return None


def _padded_tokens():
    short = np.array([[4, 7, 2, 0, 0, 0]], "int32")
    longer_padding = np.array([[4, 7, 2, 0, 0, 0, 0, 0, 0]], "int32")
    return short, longer_padding


def test_masks_propagate_through_a_functional_graph():
    tokens = gk.Input(shape=(None,), dtype="int32")
    embedded = layers.Embedding(10, 4, mask_zero=True)(tokens)
    assert embedded._keras_mask is not None and embedded._keras_mask.shape == (None, None)
    pooled = MaskedMean()(embedded)
    model = gk.Model(tokens, layers.Dense(1)(pooled))
    short, longer = _padded_tokens()
    np.testing.assert_allclose(model(short).numpy(), model(longer).numpy(), rtol=1e-6)
    table = model.layers[1].embeddings.numpy()
    dense = model.layers[-1]
    expected = _dense_np(dense, ((table[4] + table[7] + table[2]) / 3)[None].astype("float32"))
    np.testing.assert_allclose(model(short).numpy(), expected, rtol=1e-5)


def test_global_average_pooling_1d_is_padding_invariant_with_a_mask():
    tokens = gk.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(10, 4, mask_zero=True)(tokens)
    x = layers.GlobalAveragePooling1D()(x)
    model = gk.Model(tokens, layers.Dense(2)(x))
    short, longer = _padded_tokens()
    np.testing.assert_allclose(model(short).numpy(), model(longer).numpy(), rtol=1e-6)
    unmasked = gk.Model(tokens, layers.GlobalAveragePooling1D()(
        layers.Embedding(10, 4)(tokens)))
    assert not np.allclose(unmasked(short).numpy(), unmasked(longer).numpy())


def test_masking_layer_mask_reaches_a_nested_model():
    inner_in = gk.Input(shape=(None, 3))
    inner = gk.Model(inner_in, MaskedMean()(inner_in), name="inner")
    seq = gk.Input(shape=(None, 3))
    model = gk.Model(seq, inner(layers.Masking(0.0)(seq)))
    data = np.zeros((1, 5, 3), "float32")
    data[0, :2] = [[1, 2, 3], [3, 4, 5]]
    np.testing.assert_allclose(model(data).numpy(), [[2.0, 3.0, 4.0]], rtol=1e-6)


# -- errors ---------------------------------------------------------------------------------------

def _two_input_model():
    a, b = gk.Input(shape=(3,), name="a"), gk.Input(shape=(3,), name="b")
    return gk.Model([a, b], ops.add(a, b))


def test_wrong_number_of_inputs_is_reported_with_the_input_names():
    model = _two_input_model()
    with pytest.raises(ValueError, match=r"expects 2 input\(s\) \['a', 'b'\], but it "
                                         r"received 1 input"):
        model(np.ones((2, 3)))
    with pytest.raises(ValueError, match="expects 2 input"):
        model([np.ones((2, 3))] * 3)


def test_wrong_shape_names_the_input():
    model = _two_input_model()
    with pytest.raises(ValueError, match=r"input 'b' \(input 1\) expects shape \(None, 3\), "
                                         r"but received data of shape \(2, 4\)"):
        model([np.ones((2, 3)), np.ones((2, 4))])


def test_wrong_rank_names_the_input_and_last_axis_one_is_adjusted():
    x = gk.Input(shape=(3,), name="x")
    model = gk.Model(x, ops.multiply(x, 2.0))
    with pytest.raises(ValueError, match=r"input 'x' \(input 0\) expects rank 2"):
        model(np.ones((2, 3, 4)))
    y = gk.Input(shape=(1,), name="y")
    squeeze = gk.Model(y, ops.multiply(y, 2.0))
    assert squeeze(np.ones((4,), "float32")).shape == (4, 1)  # (4,) -> (4, 1)


def test_dtype_is_converted_and_lossy_conversion_is_refused():
    ids = gk.Input(shape=(2,), dtype="int32", name="ids")
    model = gk.Model(ids, ops.multiply(ids, 2))
    out = model(np.array([[1, 2]], "int64"))
    assert out.dtype == "int32"
    with pytest.raises(ValueError, match="input 'ids' .* has dtype int32, but received data "
                                         "of dtype float64"):
        model(np.array([[1.5, 2.0]]))
    x = gk.Input(shape=(2,))
    as_float = gk.Model(x, ops.multiply(x, 1.0))
    assert as_float(np.array([[1, 2]], "int32")).dtype == "float32"


def test_disconnected_graph_is_reported():
    a, b = gk.Input(shape=(2,), name="a"), gk.Input(shape=(2,), name="b")
    out = ops.add(layers.Dense(2, name="da")(a), layers.Dense(2, name="db")(b))
    with pytest.raises(ValueError, match="Graph disconnected: the input 'b' of 'db' cannot be "
                                         "computed from the model inputs \\['a'\\]"):
        gk.Model(a, out)


def test_duplicate_layer_names_are_refused():
    x = gk.Input(shape=(2,))
    y = layers.Dense(2, name="same")(layers.Dense(2, name="same")(x))
    with pytest.raises(ValueError, match="The name 'same' is used 2 times"):
        gk.Model(x, y)


def test_non_keras_tensor_inputs_are_refused():
    with pytest.raises(ValueError, match="all `inputs` must be KerasTensors"):
        gk.Model(np.ones((2, 2)), gk.Input(shape=(2,)))


@pytest.mark.parametrize("data", [np.array([[1.0, 2.0]], dtype=object), np.array([["a", "b"]])])
def test_non_numeric_input_data_names_the_model_and_the_input(data):
    inp = gk.Input((2,), name="features")
    model = gk.Model(inp, gk.layers.Dense(1)(inp), name="regressor")
    with pytest.raises(ValueError, match="Model 'regressor': input 'features'.*not a numeric"):
        model(data)
