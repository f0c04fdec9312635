"""gk.Model: subclassing, get_layer, summary, the networkx graph, DOT text and plot_model."""
import os

import networkx as nx
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers, ops


class TwoLayer(gk.Model):
    def __init__(self, hidden=4, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(hidden, activation="relu")
        self.out = layers.Dense(1)

    def call(self, x):
        return self.out(self.hidden(x))


def test_subclassed_model_tracks_layers_and_runs():
    model = TwoLayer(name="two")
    x = np.random.default_rng(0).standard_normal((3, 5)).astype("float32")
    y = model(x)
    assert y.shape == (3, 1) and model.name == "two"
    assert model.layers == [model.hidden, model.out]
    assert [w.path for w in model.weights] == ["two/dense/kernel", "two/dense/bias",
                                               "two/dense_1/kernel", "two/dense_1/bias"]
    h = np.maximum(x @ model.hidden.kernel.numpy() + model.hidden.bias.numpy(), 0)
    np.testing.assert_allclose(y.numpy(), h @ model.out.kernel.numpy() + model.out.bias.numpy(),
                               rtol=1e-5, atol=1e-6)
    config = model.get_config()
    assert config == {"name": "two", "trainable": True, "dtype": "float32", "hidden": 4}
    assert TwoLayer.from_config(config).hidden.units == 4


def test_subclassed_model_called_symbolically_inside_a_functional_model():
    inner = TwoLayer()
    x = gk.Input(shape=(5,))
    model = gk.Model(x, inner(x))
    assert [l.name for l in model.layers] == [model.layers[0].name, "two_layer"]
    assert model(np.ones((2, 5), "float32")).shape == (2, 1)
    assert len(model.weights) == 4


def test_model_constructor_errors():
    with pytest.raises(TypeError, match="keyword arguments only"):
        gk.Model(3)
    class Passthrough(gk.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)

        def call(self, x):
            return x
    with pytest.raises(TypeError, match="cannot take functional"):
        Passthrough(gk.Input(shape=(2,)), gk.Input(shape=(2,)))


def _branchy():
    a = gk.Input(shape=(4,), name="a")
    b = gk.Input(shape=(2,), name="b")
    shared = layers.Dense(2, name="shared")
    merged = layers.Concatenate(name="merge")([shared(a), b, shared(ops.multiply(a, 2.0))])
    return gk.Model([a, b], layers.Dense(1, name="head")(merged), name="branchy")


def test_get_layer_by_name_and_index():
    model = _branchy()
    assert model.get_layer("head").units == 1
    assert model.get_layer(index=0).name == "a"
    with pytest.raises(ValueError, match="has no layer named 'nope'. Its layers are"):
        model.get_layer("nope")
    with pytest.raises(ValueError, match="out of range"):
        model.get_layer(index=40)
    with pytest.raises(ValueError, match="exactly one of"):
        model.get_layer()


def test_graph_is_a_networkx_dag_of_layers_and_ops():
    model = _branchy()
    graph = model.graph
    assert isinstance(graph, nx.DiGraph) and nx.is_directed_acyclic_graph(graph)
    assert gk.utils.model_to_graph(model) is graph
    assert set(graph.nodes) == {"a", "b", "shared", "multiply", "merge", "head"}
    assert set(graph.predecessors("merge")) == {"shared", "b"}
    assert set(graph.predecessors("shared")) == {"a", "multiply"}
    assert graph.nodes["shared"]["output_shapes"] == [(None, 2), (None, 2)]
    assert graph.nodes["head"]["params"] == 7
    assert list(nx.topological_sort(graph))[-1] == "head"


def test_summary_lists_layers_shapes_params_and_connections():
    lines = []
    _branchy().summary(print_fn=lines.append)
    text = "\n".join(lines)
    flat = " ".join(text.split())  # cells wrap over several lines
    assert text.startswith('Model: "branchy"')
    assert "Layer (type)" in text and "Connected to" in text
    assert "shared (Dense)" in text and "(None, 2), (None, 2)" in text
    assert "a[0][0], multiply[0][0]" in flat
    assert "shared[0][0], b[0][0], shared[1][0]" in flat
    assert "Total params: 17 (68.00 B)" in text  # shared 4*2+2, head 6+1
    assert "Trainable params: 17 (68.00 B)" in text
    assert "Non-trainable params: 0 (0.00 B)" in text


def test_summary_of_a_stack_and_expand_nested():
    inner_in = gk.Input(shape=(3,))
    inner = gk.Model(inner_in, layers.Dense(2, name="inner_dense")(inner_in), name="inner")
    x = gk.Input(shape=(3,))
    model = gk.Model(x, layers.Dense(1, name="top")(inner(x)))
    model.get_layer("top").trainable = False
    lines = []
    model.summary(print_fn=lines.append, expand_nested=True, show_trainable=True)
    text = "\n".join(lines)
    assert "Connected to" not in text  # a plain chain
    assert "inner (Functional)" in text and "inner_dense (Dense)" in text
    assert "Trainable params: 8 (32.00 B)" in text and "Non-trainable params: 3 (12.00 B)" in text
    lines = []
    TwoLayer().summary(print_fn=lines.append)
    assert any("dense (Dense)" in line and "0 (unbuilt)" in line for line in lines)


def test_summary_counts_the_optimizer_variables_once_it_is_built():
    # As Keras 3: "Optimizer params" appears, and counts in the total, after a first step.
    x = gk.Input(shape=(3,))
    model = gk.Model(x, layers.Dense(2)(x))  # 3*2 + 2 = 8 weights
    model.compile(gk.optimizers.SGD(momentum=0.9), "mse")
    lines = []
    model.summary(print_fn=lines.append)
    assert not any("Optimizer params" in line for line in lines)
    model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    n_optimizer = sum(int(np.prod(v.shape)) for v in model.optimizer.variables)
    assert n_optimizer > 8  # momentum slots, the step count and the learning rate
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert f"Optimizer params: {n_optimizer} " in text
    assert f"Total params: {8 + n_optimizer} " in text
    assert "Trainable params: 8 (32.00 B)" in text


def test_summary_trainable_column_with_nested_models():
    inner_in = gk.Input(shape=(3,), name="ii")
    inner = gk.Model(inner_in, layers.Dense(2, name="idense")(inner_in), name="inner")
    a, b = gk.Input(shape=(3,), name="a"), gk.Input(shape=(3,), name="b")
    model = gk.Model([a, b], layers.Add(name="add")([inner(a), inner(b)]), name="outer")
    model.get_layer("inner").trainable = False
    lines = []
    model.summary(print_fn=lines.append, expand_nested=True, show_trainable=True)
    assert lines[2].rstrip().endswith("Trainable")  # the header is not wrapped
    cells = {}
    for line in lines:
        words = line.replace("\u2514", "").split()
        if len(words) > 2 and words[1].startswith("("):
            cells[words[0]] = words
    # The nested rows keep their columns: no connections in "Trainable", their own flag.
    assert cells["idense"][-1] == "N" and "ii[0][0]" not in cells["idense"]
    assert cells["inner"][-1] == "N"
    # As Keras: "-" for layers without weights.
    assert cells["a"][-1] == cells["add"][-1] == cells["ii"][-1] == "-"


def test_summary_of_a_subclassed_model_shows_built_layers_output_shapes():
    # As Keras 3: computed from the shapes the layers were built with (batch included).
    model = TwoLayer(hidden=5)
    model(np.ones((4, 3), "float32"))
    lines = []
    model.summary(print_fn=lines.append)
    rows = [line for line in lines if "(Dense)" in line]
    assert "(4, 5)" in rows[0] and "(4, 1)" in rows[1]
    # A Functional model used as a layer of a subclassed one: its own output shape.
    x = gk.Input(shape=(5,))
    wrapper = TwoLayer()
    wrapper.hidden = gk.Model(x, layers.Dense(2)(x), name="backbone")
    wrapper(np.ones((4, 5), "float32"))
    lines = []
    wrapper.summary(print_fn=lines.append)
    assert any("backbone (Functional)" in line and "(None, 2)" in line for line in lines)


def test_summary_layer_range_takes_regular_expressions_as_keras():
    # From the first layer matching the first pattern to the last matching the second.
    x = gk.Input(shape=(3,))
    h = layers.Dense(4, name="dense_a")(x)
    h = layers.Dropout(0.1, name="drop")(h)
    h = layers.Dense(4, name="dense_b")(h)
    model = gk.Model(x, layers.Dense(1, name="head")(h))

    def shown(layer_range):
        lines = []
        model.summary(print_fn=lines.append, layer_range=layer_range)
        return [line.split()[0] for line in lines if "(Dense)" in line or "(Dropout)" in line]

    assert shown(["dense", "dense"]) == ["dense_a", "drop", "dense_b"]
    assert shown(["drop", "h.*"]) == ["drop", "dense_b", "head"]
    assert shown(["head", "drop"]) == ["drop", "dense_b", "head"]
    with pytest.raises(ValueError, match="matches no layer"):
        shown(["nothing", "head"])


def test_summary_of_a_chain_with_several_outputs_has_no_connections_column():
    # As Keras 3: a chain stays "sequential-like" with return_state or intermediate outputs.
    x = gk.Input(shape=(5, 3))
    seq, h, c = layers.LSTM(4, return_sequences=True, return_state=True)(x)
    for model in (gk.Model(x, [seq, h, c]), gk.Model(x, [h, layers.Dense(2)(h)])):
        lines = []
        model.summary(print_fn=lines.append)
        assert not any("Connected to" in line for line in lines)


def test_model_to_dot_is_valid_dot_text():
    dot = gk.utils.model_to_dot(_branchy(), show_shapes=True, show_dtype=True, rankdir="LR")
    assert dot.startswith('digraph "branchy" {') and dot.rstrip().endswith("}")
    assert '"a" -> "shared";' in dot and '"multiply" -> "shared";' in dot
    assert "output: (None, 2), (None, 2)" in dot and "dtype: float32" in dot
    assert "rankdir=LR" in dot
    with pytest.raises(ValueError, match="rankdir"):
        gk.utils.model_to_dot(_branchy(), rankdir="XY")


def test_plot_model_renders_or_writes_dot(tmp_path, monkeypatch):
    import graphkit.utils.plot as plot
    monkeypatch.setattr(plot.shutil, "which", lambda name: None)
    target = tmp_path / "model.png"
    with pytest.warns(UserWarning, match="was not found"):
        path = gk.utils.plot_model(_branchy(), str(target))
    assert path == str(tmp_path / "model.dot") and open(path).read().startswith("digraph")
    dot_path = gk.utils.plot_model(_branchy(), str(tmp_path / "graph.dot"))
    assert os.path.exists(dot_path)


def test_subclassed_model_has_no_graph():
    with pytest.raises(ValueError, match="subclassed model"):
        TwoLayer().graph


def test_subclassed_model_build_creates_the_weights():
    model = TwoLayer(hidden=3)
    model.build((None, 5))
    assert model.built and [tuple(w.shape) for w in model.weights] == [(5, 3), (3,), (3, 1), (1,)]
    assert model.count_params() == 22


def test_subclass_overriding_train_step_takes_functional_inputs_outputs():
    class CustomModel(gk.Model):
        def train_step(self, data):
            x, y = data
            with gk.GradientTape() as tape:
                loss = self.compute_loss(y=y, y_pred=self(x, training=True))
            self.optimizer.apply(tape.gradient(loss, self.trainable_variables),
                                 self.trainable_variables)
            self._loss_tracker.update_state(loss)
            return {"loss": self._loss_tracker.result()}

    x = np.ones((8, 3), "float32")
    y = np.zeros((8, 1), "float32")
    histories = []
    for cls in (gk.Model, CustomModel):
        i = gk.Input((3,))
        model = cls(i, layers.Dense(1, kernel_initializer="ones")(i))
        model.compile(gk.optimizers.SGD(0.1), "mse")
        histories.append(model.fit(x, y, epochs=2, batch_size=4, verbose=0).history["loss"])
    assert isinstance(model, CustomModel) and model.layers
    np.testing.assert_allclose(histories[1], histories[0], rtol=1e-6)
