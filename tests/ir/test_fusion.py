"""Kernel counts of traced layer code after the full pipeline, and fusion's invariants."""
import logging
import os

import networkx as nx
import numpy as np
import pytest

import graphkit as gk
from graphkit import ir, layers, ops
from graphkit.ir.kernel import KernelInfo
from graphkit.ir.passes import fusion
from graphkit.ir.tracer import trace_function
from tests.ir.helpers import assert_same_results, kernel_count

RNG = np.random.default_rng(3)


def compiled(fn, *args):
    graph, info = trace_function(fn, args)
    before = graph.clone()
    result = ir.run_pipeline(graph, verify_each=True, dump_dir=False)
    values = list(args) + [v.numpy() for v in info.var_reads]
    assert_same_results(before, result.graph, inputs=values)
    return result.graph


def x32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def test_dense_relu_is_one_kernel():
    g = compiled(layers.Dense(128, activation="relu"), x32(32, 64))
    assert kernel_count(g) == 1
    info = KernelInfo(g.kernels()[0])
    assert info.kind == "matmul" and info.space == (32, 128)
    assert info.members == ["matmul", "add", "maximum"]


def test_six_op_elementwise_chain_is_one_kernel():
    def chain(x, y):
        return ops.tanh(ops.exp(x * 2.0 + y) - y) / (ops.abs(x) + 1.0)
    g = compiled(chain, x32(16, 32), x32(32))
    assert kernel_count(g) == 1
    assert KernelInfo(g.kernels()[0]).kind == "elementwise"


def test_softmax_is_at_most_two_kernels():
    g = compiled(lambda x: ops.softmax(x, axis=-1), x32(16, 10))
    assert kernel_count(g) <= 2


def test_layer_norm_is_at_most_two_kernels():
    ln = layers.LayerNormalization()
    g = compiled(ln, x32(16, 24))
    assert kernel_count(g) <= 2


def test_mlp_forward_is_two_kernels():
    model = gk.Sequential([layers.Dense(32, activation="relu"), layers.Dense(8, activation="relu")])
    g = compiled(model, x32(16, 12))
    assert kernel_count(g) == 2
    assert [KernelInfo(k).kind for k in g.kernels()] == ["matmul", "matmul"]


def test_training_step_fuses_and_matches_eager():
    model = gk.Sequential([layers.Dense(16, activation="relu"), layers.Dense(4)])
    x = x32(8, 6)
    model(x)

    def loss(x):
        with gk.GradientTape() as tape:
            value = ops.mean(ops.square(model(x)))
        return value, tape.gradient(value, model.trainable_variables)
    g = compiled(loss, x)
    assert kernel_count(g) < sum(1 for n in ir.trace(loss, x).nodes if n.op != "constant")
    # The transposes of the backward matmuls are read with swapped strides, not copied.
    kinds = [KernelInfo(k).kind for k in g.kernels()]
    assert "layout" not in kinds
    assert any(KernelInfo(k).transposed_operands for k in g.kernels())


def test_kernel_dag_is_acyclic_and_kernels_respect_dependencies():
    def f(a, w):
        e = ops.exp(a)
        m = ops.matmul(e, w)
        return e + m, ops.sum(m * e, axis=1)
    g = compiled(f, x32(6, 6), x32(6, 6))
    assert nx.is_directed_acyclic_graph(g.to_networkx())


def test_why_not_fused_is_logged(caplog):
    path = os.path.join(os.path.dirname(__file__), "cases", "fusion_no_cycle.gkir")
    text = open(path).read().split("# expect:")[0]
    graph = ir.parse(text.split("\n", 1)[1])
    with caplog.at_level(logging.DEBUG, logger="graphkit.ir.fusion"):
        fusion.run(graph)
    assert any("would create a cycle in the kernel DAG" in r.message for r in caplog.records)


def test_reduction_levels_tell_codegen_what_runs_per_row():
    g = compiled(lambda x: ops.softmax(x, axis=-1), x32(4, 8))
    last = KernelInfo(g.kernels()[-1])
    assert last.kind == "reduction" and last.space == (4, 8) and last.reduce_axes == (1,)
    levels = {n.op: lvl for n, lvl in last.levels.items()}
    assert levels["sum"] == "reduction" and levels["exp"] == "inner"
    assert levels["divide"] == "inner"  # broadcast back over the row: a second inner loop

    mean = compiled(lambda x: ops.sum(x, axis=1) / 8.0 + 1.0, x32(4, 8))
    levels = {n.op: lvl for n, lvl in KernelInfo(mean.kernels()[0]).levels.items()}
    assert levels == {"sum": "reduction", "divide": "outer", "add": "outer"}


def test_refusing_a_fused_graph():
    g = compiled(lambda x: ops.exp(x), x32(3))
    with pytest.raises(fusion.FusionError, match="already fused"):
        fusion.run(g)
