"""Composite ops called on KerasTensors: one node per public call (Keras's Mean, Softmax...),
run as the public op, and saved with their non-tensor arguments."""
import json
import re

import numpy as np
import pytest

import graphkit as gk
from graphkit import layers, ops
from graphkit.models.op_call import OpCallOperation
from graphkit.models.operation import PrimitiveOperation


def _data(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def _mean_softmax_model():
    x = gk.Input((8,), name="x")
    h = layers.Dense(4, name="dense")(x)
    m = ops.mean(h, axis=-1, keepdims=True)
    y = ops.softmax(h - m) * 2.0
    return gk.Model(x, y)


def _eager_mean_softmax(model, data):
    h = model.get_layer("dense")(data)
    return ops.softmax(h - ops.mean(h, axis=-1, keepdims=True)) * 2.0


def _summary_rows(model):
    """[name, type] of each row of the summary."""
    lines = []
    model.summary(print_fn=lines.append)
    return [list(m.groups()) for line in "\n".join(lines).splitlines()
            if (m := re.match(r"^ (\w+) \((\w+)\)", line)) and m.group(1) != "Layer"]


def _multi_arg_model():
    """split (several outputs), concatenate and stack (lists), einsum (*operands with a
    constant), where, getitem (a slice key) and keyword arguments."""
    a, b = gk.Input((4,), name="a"), gk.Input((4,), name="b")
    joined = ops.concatenate([a, b], axis=1)
    left, right = ops.split(joined, 2, axis=1)
    stacked = ops.stack([left, right], axis=1)
    mixed = ops.einsum("ij,jk->ik", a, ops.convert_to_tensor(np.eye(4, 3, dtype="float32")))
    picked = ops.where(a > 0, a, b)
    y = stacked[:, 0] + picked + ops.sum(mixed, axis=1, keepdims=True)
    return gk.Model([a, b], y)


def _eager_multi_arg(xa, xb):
    left, right = np.split(np.concatenate([xa, xb], axis=1), 2, axis=1)
    stacked = np.stack([left, right], axis=1)
    mixed = xa @ np.eye(4, 3, dtype="float32")
    return stacked[:, 0] + np.where(xa > 0, xa, xb) + mixed.sum(axis=1, keepdims=True)


# -- recording ----------------------------------------------------------------------------------

def test_each_public_op_call_is_one_named_node_in_the_summary():
    model = _mean_softmax_model()
    assert [op.name for op in model.operations] == [
        "x", "dense", "mean", "subtract", "softmax", "multiply"]
    assert _summary_rows(model) == [
        ["x", "InputLayer"], ["dense", "Dense"], ["mean", "Mean"],
        ["subtract", "Subtract"], ["softmax", "Softmax"], ["multiply", "Multiply"]]
    mean = model.operations[2]
    assert isinstance(mean, OpCallOperation) and mean.output.shape == (None, 1)
    assert isinstance(model.operations[3], PrimitiveOperation)


def test_op_nodes_are_not_layers_and_names_count_up():
    x = gk.Input((3,))
    y = ops.mean(ops.mean(x, axis=-1, keepdims=True) + x, axis=-1)
    model = gk.Model(x, y)
    assert [type(layer).__name__ for layer in model.layers] == ["InputLayer"]
    assert [op.name for op in model.operations[1:]] == ["mean", "add", "mean_1"]
    assert model.graph.has_edge("mean", "add") and model.graph.has_edge("add", "mean_1")


def test_composites_made_of_composites_make_no_inner_nodes():
    x = gk.Input((5,))
    y = ops.std(ops.log_softmax(x), axis=-1)  # std -> var -> mean; log_softmax -> logsumexp
    model = gk.Model(x, y)
    assert [op.op_name for op in model.operations[1:]] == ["log_softmax", "std"]
    data = _data(3, 5)
    shifted = data - np.log(np.exp(data).sum(-1, keepdims=True))
    np.testing.assert_allclose(model(data).numpy(), shifted.std(-1), rtol=1e-5)


def test_ops_inside_a_layer_call_stay_inside_the_layer_node():
    class Centered(gk.layers.Layer):
        def call(self, x):
            return ops.softmax(x - ops.mean(x, axis=-1, keepdims=True))

    x = gk.Input((4,))
    model = gk.Model(x, Centered(name="centered")(x))
    assert [op.name for op in model.operations] == [model.inputs[0].name, "centered"]


def test_outputs_equal_the_eager_composition():
    model = _mean_softmax_model()
    data = _data(6, 8)
    np.testing.assert_allclose(model(data).numpy(),
                               _eager_mean_softmax(model, data).numpy(), rtol=1e-6)


def test_multi_output_and_nested_argument_ops():
    model = _multi_arg_model()
    by_name = {op.name: op for op in model.operations}
    assert {"split", "stack", "einsum", "where", "getitem"} <= set(by_name)
    assert isinstance(by_name["split"], OpCallOperation)
    assert [t.shape for t in by_name["split"].output] == [(None, 4), (None, 4)]
    assert len(by_name["stack"]._inbound_nodes[0].input_tensors) == 2
    xa, xb = _data(3, 4), _data(3, 4, seed=1)
    np.testing.assert_allclose(model([xa, xb]).numpy(), _eager_multi_arg(xa, xb), rtol=1e-5)


def test_tensors_passed_by_keyword_or_star_args_and_keyword_only_arguments():
    a, b = gk.Input((3,)), gk.Input((2,))
    clipped = ops.clip(x=a, x_min=-0.5, x_max=0.5)
    grid_a, grid_b = ops.meshgrid(ops.mean(a, axis=0), ops.mean(b, axis=0), indexing="ij")
    model = gk.Model([a, b], [clipped, grid_a, grid_b])
    assert sorted(op.op_name for op in model.operations[2:]) == [
        "clip", "mean", "mean", "meshgrid"]
    xa, xb = _data(4, 3), _data(4, 2, seed=1)
    outs = [t.numpy() for t in model([xa, xb])]
    expected = [np.clip(xa, -0.5, 0.5),
                *np.meshgrid(xa.mean(0), xb.mean(0), indexing="ij")]
    for got, want in zip(outs, expected):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_an_op_that_returns_its_input_gets_a_new_output_tensor():
    x = gk.Input((3,))
    y = ops.copy(x)
    assert y is not x
    model = gk.Model(x, y)
    assert [op.op_name for op in model.operations[1:]] == ["copy"]
    np.testing.assert_array_equal(model(np.ones((2, 3), "float32")).numpy(), np.ones((2, 3)))


def test_eager_and_traced_calls_are_plain_op_calls():
    a = ops.convert_to_tensor(_data(2, 3))
    assert type(ops.mean(a, axis=1)) is type(a)
    np.testing.assert_allclose(gk.jit(lambda t: ops.softmax(t, axis=-1))(a),
                               ops.softmax(a).numpy(), rtol=1e-6)


# -- config and saving --------------------------------------------------------------------------

def test_config_stores_the_op_and_its_non_tensor_arguments():
    model = _mean_softmax_model()
    config = json.loads(json.dumps(model.get_config()))
    mean = next(layer for layer in config["layers"] if layer["name"] == "mean")
    assert mean["class_name"] == "OpCallOperation"
    assert mean["config"]["op"] == "mean"
    assert mean["config"]["args"][1:] == [-1, True]
    restored = gk.Model.from_config(config)
    restored.set_weights(model.get_weights())
    assert [op.name for op in restored.operations] == [op.name for op in model.operations]
    data = _data(4, 8)
    np.testing.assert_allclose(restored(data).numpy(), model(data).numpy(), rtol=1e-6)


def test_multi_output_and_nested_arguments_round_trip_through_config():
    model = _multi_arg_model()
    restored = gk.Model.from_config(json.loads(json.dumps(model.get_config())))
    xa, xb = _data(3, 4), _data(3, 4, seed=2)
    np.testing.assert_allclose(restored([xa, xb]).numpy(), model([xa, xb]).numpy(), rtol=1e-6)


def test_keras_file_round_trip(tmp_path):
    model = _mean_softmax_model()
    model.save(tmp_path / "m.keras")
    loaded = gk.saving.load_model(tmp_path / "m.keras")
    assert [op.name for op in loaded.operations] == [op.name for op in model.operations]
    data = _data(5, 8)
    np.testing.assert_allclose(loaded.predict(data, verbose=0),
                               model.predict(data, verbose=0), rtol=1e-6)
    multi = _multi_arg_model()
    multi.save(tmp_path / "multi.keras")
    loaded = gk.saving.load_model(tmp_path / "multi.keras")
    xa, xb = _data(3, 4), _data(3, 4, seed=3)
    np.testing.assert_allclose(loaded([xa, xb]).numpy(), multi([xa, xb]).numpy(), rtol=1e-6)


def test_clone_model_copies_op_nodes():
    model = _mean_softmax_model()
    clone = gk.models.clone_model(model)
    clone.set_weights(model.get_weights())
    assert _summary_rows(clone) == _summary_rows(model)
    assert clone.operations[2] is not model.operations[2]
    data = _data(3, 8)
    np.testing.assert_allclose(clone(data).numpy(), model(data).numpy(), rtol=1e-6)


def test_unknown_op_in_a_config_is_named():
    with pytest.raises(ValueError, match="'meen'.*'mean'"):
        OpCallOperation.from_config({"name": "meen", "op": "meen", "args": [], "kwargs": {}})


def test_unserializable_argument_error_names_the_op():
    x = gk.Input((3,))
    model = gk.Model(x, ops.mean(x, axis=-1, keepdims=object()))
    with pytest.raises(TypeError, match=r"'mean' \(gk.ops.mean\)"):
        model.get_config()


# -- the compiled path --------------------------------------------------------------------------

def test_compiled_predict_matches_eager():
    model = _mean_softmax_model()
    data = _data(4, 8)
    eager = model(data).numpy()
    model.compile(jit_compile=True)
    np.testing.assert_allclose(model.predict(data, verbose=0), eager, rtol=1e-5, atol=1e-6)
    assert model.predict_function.is_compiled


def test_jit_of_a_model_with_multi_output_ops_matches_eager():
    model = _multi_arg_model()
    xa, xb = _data(3, 4), _data(3, 4, seed=4)
    compiled = gk.jit(lambda a, b: model([a, b]))(xa, xb)
    np.testing.assert_allclose(np.asarray(compiled), _eager_multi_arg(xa, xb), rtol=1e-5,
                               atol=1e-6)


def test_ir_command_traces_a_saved_model_with_op_nodes(tmp_path, capsys):
    from graphkit.__main__ import main
    _mean_softmax_model().save(tmp_path / "m.keras")
    assert main(["ir", str(tmp_path / "m.keras"), "--stage", "traced"]) == 0
    out = capsys.readouterr().out
    assert " exp " in out and " max " in out  # softmax's primitives, traced as before
    # each op node runs under its own name, as a layer does: IR paths tell mean from softmax
    assert re.search(r"= sum .*# functional\w*/mean\w*/sum", out)
    assert re.search(r"= exp .*# functional\w*/softmax\w*/exp", out)
