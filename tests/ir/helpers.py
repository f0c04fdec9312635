"""Shared helpers for IR tests: inputs for a graph, and the interpreter as the oracle."""
import numpy as np

from graphkit import ir


def random_inputs(graph, seed=0, positive=False):
    """One array per graph parameter, drawn to fit its type (positive keeps logs finite)."""
    rng = np.random.default_rng(seed)
    arrays = []
    for p in graph.params:
        t = p.type
        if t.dtype == "bool":
            a = rng.random(t.shape) < 0.5
        elif t.dtype.startswith(("int", "uint")):
            a = rng.integers(0, 5, t.shape)
        else:
            a = rng.uniform(0.5, 2.0, t.shape) if positive else rng.uniform(-2.0, 2.0, t.shape)
        arrays.append(np.asarray(a, dtype=t.dtype))
    return arrays


def assert_same_results(before, after, inputs=None, rtol=1e-5, atol=1e-6, positive=False):
    """The interpreter gives the same outputs for both graphs (same params and outputs)."""
    inputs = random_inputs(before, positive=positive) if inputs is None else inputs
    with np.errstate(all="ignore"):  # logs of negatives: NaN in both graphs
        want = ir.interpret(before, *inputs)
        got = ir.interpret(after, *inputs)
    assert len(want) == len(got)
    for i, (w, g) in enumerate(zip(want, got)):
        assert w.shape == g.shape and w.dtype == g.dtype, f"output {i}: {g.dtype}{g.shape}"
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"output {i}")


def kernel_count(graph):
    return sum(1 for n in graph.nodes if n.op == "kernel")
