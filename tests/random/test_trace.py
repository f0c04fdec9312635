"""gk.random under a trace: the generator state is a graph input, its advance a graph
output, and the interpreter reproduces the eager numbers exactly."""
import numpy as np

import graphkit as gk
from graphkit import ops  # noqa: F401  (loads gk.ops before the IR package)
from graphkit.ir.interpreter import interpret
from graphkit.ir.tracer import trace_function


def _draws(x, gen):
    return (gk.random.dropout(x, 0.4, seed=gen), gk.random.uniform((3,), -1.0, 1.0, seed=gen),
            gk.random.normal((5,), seed=gen), gk.random.truncated_normal((4,), seed=gen),
            gk.random.shuffle(x, seed=gen))


def test_traced_random_matches_eager_and_advances_the_state():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    gen = gk.random.SeedGenerator(21)
    graph, info = trace_function(_draws, (x, gen))
    assert info.var_reads == [gen.state] and info.var_writes == [gen.state]
    assert gen.state.numpy().tolist() == [21, 0]  # tracing changed nothing
    ops_used = {n.op for n in graph.nodes}
    assert {"random_bits", "bits_to_unit_float", "random_permutation"} <= ops_used
    *outs, new_state = interpret(graph, x, gen.state.numpy())
    assert new_state.tolist() == [21, 5]
    eager = _draws(x, gen)
    for traced, ref in zip(outs, eager):
        np.testing.assert_array_equal(traced, ref.numpy())
    assert gen.state.numpy().tolist() == [21, 5]
