"""Tracing layer code into graphs: parameters, variables, constants, scopes, tapes, errors."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import ir, layers, naming, ops
from graphkit.ir.tracer import TracerError, trace_function

RNG = np.random.default_rng(7)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def test_array_leaves_become_params_and_other_leaves_stay_static():
    seen = {}

    def f(x, pair, scale, name=None):
        seen["scale"], seen["name"] = scale, name
        return x * scale + pair[1]

    g, info = trace_function(f, (f32(2, 3), (4, f32(3)), 2.0), {"name": "n"})
    assert [str(p.type) for p in g.params] == ["f32[2,3]", "f32[3]"]
    assert g.param_labels == ["args[0]", "args[1][1]"]
    assert seen == {"scale": 2.0, "name": "n"}
    assert info.arg_leaves == [0, 2]
    assert g.output_labels == ["out"]


def test_variable_reads_are_params_and_assigns_are_outputs():
    v = gk.Variable(np.ones(3, np.float32), name="v")
    w = gk.Variable(np.full(3, 2.0, np.float32), name="w")

    def f(x):
        a = v + x          # read
        v.assign(a * 2.0)  # assign
        b = v + w          # reads the assigned value, not a new param
        w.assign_add(x)
        return v.value + b

    g, info = trace_function(f, (f32(3),))
    assert g.param_labels == ["args[0]", "var:v", "var:w"]
    assert g.output_labels == ["out", "var:v", "var:w"]
    assert info.var_reads == [v, w] and info.var_writes == [v, w]
    np.testing.assert_array_equal(v.numpy(), [1, 1, 1])  # tracing changed nothing
    x = f32(3)
    out, new_v, new_w = ir.interpret(g, x, v.numpy(), w.numpy())
    eager = f(gk.ops.convert_to_tensor(x))
    np.testing.assert_allclose(out, eager.numpy(), rtol=1e-6)
    np.testing.assert_allclose(new_v, v.numpy(), rtol=1e-6)
    np.testing.assert_allclose(new_w, w.numpy(), rtol=1e-6)


def test_constants_are_lifted_once_and_uniform_ones_become_full():
    table = gk.ops.convert_to_tensor(np.array([1.0, 2.0, 3.0], np.float32))
    ones = gk.ops.convert_to_tensor(np.ones((2, 3), np.float32))

    def f(x):
        return (x + table) * ones + table

    g = ir.trace(f, f32(2, 3))
    ops_used = [n.op for n in g.nodes]
    assert ops_used.count("constant") == 1 and ops_used.count("full") == 1
    full = next(n for n in g.nodes if n.op == "full")
    assert full.attrs == {"shape": (2, 3), "value": 1.0, "dtype": "float32"}


def test_nodes_carry_layer_path_and_op_name():
    dense = layers.Dense(4, name="dense_1")
    g = ir.trace(dense, f32(2, 3))
    scopes = [n.scope for n in g.nodes if n.op != "constant"]
    assert scopes[:2] == ["dense_1/matmul", "dense_1/add"]
    assert "%2:f32[2,4] = matmul %0, %1  # dense_1/matmul" in str(g)
    with naming.name_scope("block"):
        g2 = ir.trace(lambda x: ops.exp(x), f32(2))
    assert g2.nodes[0].scope == "block/exp"


def test_layer_subclassed_and_functional_models_trace_to_their_eager_results():
    class Block(gk.Model):
        def __init__(self):
            super().__init__()
            self.d1 = layers.Dense(8, activation="relu")
            self.d2 = layers.Dense(2)

        def call(self, x):
            return self.d2(self.d1(x))

    inp = gk.Input((5,))
    functional = gk.Model(inp, layers.Dense(3)(layers.Dense(6, activation="tanh")(inp)))
    x = f32(4, 5)
    for model in (layers.Dense(3, activation="sigmoid"), Block(), functional):
        eager = model(x).numpy()
        g, info = trace_function(model, (x,))
        ir.verify(g)
        (out,) = ir.interpret(g, x, *[v.numpy() for v in info.var_reads])
        np.testing.assert_allclose(out, eager, rtol=1e-6, atol=1e-6)
        assert {v.path for v in info.var_reads} == {v.path for v in model.weights}


def test_gradient_tape_inside_a_trace_emits_the_backward_pass():
    model = layers.Dense(3)
    x = f32(4, 2)
    model(x)

    def step(x):
        with gk.GradientTape() as tape:
            loss = ops.sum(model(x) * model(x))
        return tape.gradient(loss, model.trainable_variables)

    g, info = trace_function(step, (x,))
    ir.verify(g)
    traced = ir.interpret(g, x, *[v.numpy() for v in info.var_reads])
    eager = step(gk.ops.convert_to_tensor(x))
    for t, e in zip(traced, eager):
        np.testing.assert_allclose(t, e.numpy(), rtol=1e-5, atol=1e-6)


def test_data_dependent_python_is_refused_with_advice():
    def branch(x):
        return x if ops.sum(x) > 0 else -x

    with pytest.raises(TracerError, match=r"Python control flow [^$]*static_argnames"):
        ir.trace(branch, f32(3))
    with pytest.raises(TracerError, match=r"Converting to a NumPy array needs the data of a "
                                          r"traced value \(%0:f32\[3\]"):
        ir.trace(lambda x: np.asarray(x), f32(3))


@pytest.mark.parametrize("make", [lambda x: gk.Variable(x), lambda x: gk.Variable(x * 2.0)])
def test_a_variable_made_from_a_traced_value_is_refused_with_advice(make):
    with pytest.raises(TypeError, match=r"Variable '[^']+': the initial value is a symbolic "
                                        r"Tracer \(shape \(3,\), dtype float32\).*build\(\)"):
        ir.trace(make, f32(3))
    with pytest.raises(TypeError, match=r"symbolic KerasTensor"):
        gk.Variable(gk.Input((3,)))


def test_a_tracer_kept_after_its_trace_is_refused():
    kept = []
    ir.trace(lambda x: kept.append(ops.exp(x)) or x, f32(2))
    with pytest.raises(TracerError, match="after its trace ended"):
        ops.add(kept[0], 1.0)


def test_symbolic_inputs_are_refused():
    with pytest.raises(TypeError, match=r"args\[0\]: cannot trace a function of a symbolic"):
        ir.trace(lambda x: x, gk.Input((3,)))


def test_tracer_surface():
    def f(x):
        assert x.shape == (2, 3) and x.dtype == "float32" and x.ndim == 2 and len(x) == 2
        assert "Tracer %0:f32[2,3]" in repr(x)
        return x.T @ x, x.reshape(3, 2), x.astype("float64")

    g = ir.trace(f, f32(2, 3))
    assert [str(o.type) for o in g.outputs] == ["f32[3,3]", "f32[3,2]", "f64[2,3]"]
