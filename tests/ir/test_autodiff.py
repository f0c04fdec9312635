"""IR autodiff == the eager tape, on every differentiable primitive (helper A's case table in
tests/ops/test_gradients.py) and on layers. The differentiated graphs also go through the
whole pass pipeline, verified after every pass, and must still give the tape's numbers."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import ir, layers
from graphkit.ir.tracer import trace_function
from tests.ops.test_gradients import CASES, COMPOSITES

ALL = [(f"{name}[{i}]", case) for name, cases in sorted(CASES.items())
       for i, case in enumerate(cases)] + sorted(COMPOSITES.items())


def tape_vjp(fn, inputs, ct):
    xs = [gk.ops.convert_to_tensor(a) for a in inputs]
    with gk.GradientTape() as tape:
        tape.watch(xs)
        y = fn(*xs)
    grads = tape.gradient(y, xs, output_gradients=ct)
    return y.numpy(), [np.zeros_like(x) if g is None else g.numpy() for x, g in zip(inputs, grads)]


@pytest.mark.parametrize("name, case", ALL, ids=[n for n, _ in ALL])
def test_ir_gradients_equal_tape_gradients(name, case):
    inputs = [np.asarray(a, dtype=np.float64) for a in case.inputs]
    graph = ir.trace(case.fn, *inputs)
    ct = np.random.default_rng(0).standard_normal(graph.outputs[0].type.shape)
    ct = ct.astype(graph.outputs[0].type.dtype)
    grad = ir.verify(ir.grad_graph(graph, seeds="params"))
    want_y, want_grads = tape_vjp(case.fn, inputs, ct)
    got_y, *got_grads = ir.interpret(grad, *inputs, ct)
    np.testing.assert_allclose(got_y, want_y, rtol=1e-12, atol=1e-12)
    for g, w in zip(got_grads, want_grads):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
    optimized = ir.run_pipeline(grad, verify_each=True, dump_dir=False).graph
    _, *opt_grads = ir.interpret(optimized, *inputs, ct)
    for g, w in zip(opt_grads, want_grads):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_every_differentiable_primitive_is_covered():
    from graphkit.ops.primitive import PRIMITIVES
    assert {n for n, p in PRIMITIVES.items() if p.grad is not None} <= set(CASES)


def test_seeds_ones_differentiates_the_sum_and_unconnected_params_get_zeros():
    def f(x, y, k):
        return gk.ops.sum(x * x), k
    x = np.array([1.0, 2.0], np.float32)
    g = ir.grad_graph(ir.trace(f, x, x, np.array([3], np.int32)))
    assert g.output_labels == ["out[0]", "out[1]", "grad:args[0]", "grad:args[1]"]
    _, _, gx, gy = ir.interpret(g, x, x, np.array([3], np.int32))
    np.testing.assert_array_equal(gx, 2 * x)
    np.testing.assert_array_equal(gy, [0.0, 0.0])


def test_backward_nodes_are_scoped_under_their_layer():
    dense = layers.Dense(3, name="dense_1")
    x = np.ones((2, 4), np.float32)
    graph, info = trace_function(lambda x: gk.ops.sum(dense(x)), (x,))
    grad = ir.grad_graph(graph)
    scopes = {n.scope for n in grad.nodes}
    assert "dense_1/grad/matmul" in scopes
    assert grad.output_labels[-2:] == ["grad:var:dense_1/kernel", "grad:var:dense_1/bias"]


@pytest.mark.parametrize("make", [
    lambda: layers.Dense(5, activation="tanh"),
    lambda: layers.LayerNormalization(),
    lambda: layers.BatchNormalization(),
], ids=["dense_tanh", "layer_norm", "batch_norm"])
def test_layer_gradients_match_the_tape(make):
    layer = make()
    x = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)
    layer(x)
    weights = layer.trainable_variables

    def loss(x):
        return gk.ops.sum(gk.ops.square(layer(x, training=True)))

    graph, info = trace_function(loss, (x,))
    ids = [id(v) for v in info.var_reads]  # (== on variables is elementwise)
    wrt = [1 + ids.index(id(w)) for w in weights]
    grad = ir.verify(ir.grad_graph(graph, wrt=wrt))
    values = [x] + [v.numpy() for v in info.var_reads]
    got = ir.interpret(grad, *values)[-len(weights):]
    with gk.GradientTape() as tape:
        y = loss(gk.ops.convert_to_tensor(x))
    want = tape.gradient(y, weights)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w.numpy(), rtol=2e-5, atol=1e-5)


def test_bad_arguments_are_named():
    g = ir.trace(lambda x: gk.ops.cast(x, "int32"), np.ones(2, np.float32))
    with pytest.raises(ValueError, match="output 0 is i32\\[2\\]; only float outputs"):
        ir.grad_graph(g)
    with pytest.raises(ValueError, match="`seeds` must be 'ones' or 'params'"):
        ir.grad_graph(g, seeds="zeros")
