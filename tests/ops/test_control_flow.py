"""gk.ops control flow (graphkit/ops/control_flow.py): eager results against plain Python
loops, traced (gk.jit) results against eager, gradients (tape and IR autodiff) against
finite differences, symbolic calls, and the errors of what cannot be traced."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers, ops
from graphkit.ir.tracer import TracerError, trace_function

RNG = np.random.default_rng(7)
X = RNG.uniform(-1, 1, (4, 3)).astype(np.float32)


def np_of(v):
    return np.asarray(v)


def assert_trees_close(a, b, tol=1e-5):
    fa, fb = gk.tree.flatten(a), gk.tree.flatten(b)
    assert len(fa) == len(fb)
    for u, v in zip(fa, fb):
        np.testing.assert_allclose(np_of(u), np_of(v), rtol=tol, atol=tol)


def jit_matches_eager(fn, *args):
    eager = fn(*[ops.convert_to_tensor(a) for a in args])
    assert_trees_close(gk.jit(fn)(*args), eager)
    return eager


# -- eager against plain Python ---------------------------------------------------------------

def test_cond_runs_one_branch_on_a_known_predicate():
    calls = []
    out = ops.cond(ops.convert_to_tensor(False), lambda: calls.append("t") or 1,
                   lambda: calls.append("f") or 2)
    assert out == 2 and calls == ["f"]
    assert ops.cond(np.bool_(True), lambda: "a", lambda: "b") == "a"


def test_switch_clamps_its_index():
    branches = [lambda v: v + 1.0, lambda v: v * 3.0]
    np.testing.assert_allclose(np_of(ops.switch(7, branches, X)), X * 3.0)
    np.testing.assert_allclose(np_of(ops.switch(-1, branches, X)), X + 1.0)


def test_while_loop_matches_python():
    i, v = ops.while_loop(lambda i, v: i < 4, lambda i, v: (i + 1, v * 2.0), [0, X])
    assert i == 4
    np.testing.assert_allclose(np_of(v), X * 16.0)
    single = ops.while_loop(lambda v: ops.sum(ops.abs(v)) < 50.0, lambda v: v * 2.0, X)
    expected = X.copy()
    while np.abs(expected).sum() < 50.0:
        expected = expected * 2.0
    np.testing.assert_allclose(np_of(single), expected)
    capped = ops.while_loop(lambda v: True, lambda v: v + 1.0, X, maximum_iterations=3)
    np.testing.assert_allclose(np_of(capped), X + 3.0)


def test_fori_loop_matches_python():
    expected = X.copy()
    for i in range(2, 5):
        expected = expected * 0.5 + i
    out = ops.fori_loop(2, 5, lambda i, v: v * 0.5 + i, ops.convert_to_tensor(X))
    np.testing.assert_allclose(np_of(out), expected, rtol=1e-6)


def test_scan_matches_python_forward_and_reverse():
    for reverse in (False, True):
        carry, ys = ops.scan(lambda c, r: (c * 0.5 + r, c - r), ops.ones((3,)), X,
                             reverse=reverse)
        c, expected = np.ones(3, np.float32), [None] * 4
        for i in (reversed(range(4)) if reverse else range(4)):
            c, expected[i] = c * 0.5 + X[i], c - X[i]
        np.testing.assert_allclose(np_of(carry), c, rtol=1e-6)
        np.testing.assert_allclose(np_of(ys), np.stack(expected), rtol=1e-6)


def test_scan_structures_length_and_none_ys():
    carry, ys = ops.scan(lambda c, x: (c + x["a"], (x["a"], x["b"] * 2.0)), 0.0,
                         {"a": X[:, 0], "b": X[:, 1]})
    np.testing.assert_allclose(np_of(carry), X[:, 0].sum(), rtol=1e-6)
    np.testing.assert_allclose(np_of(ys[1]), X[:, 1] * 2.0)
    carry, ys = ops.scan(lambda c, x: (c + 1.0, None), 0.0, length=5)
    assert float(np_of(carry)) == 5.0 and ys is None
    carry, ys = ops.scan(lambda c, r: (c, r * 2.0), 1.0, np.zeros((0, 3), np.float32))
    assert np_of(ys).shape == (0, 3)


def test_map_and_vectorized_map_match_python():
    np.testing.assert_allclose(np_of(ops.map(lambda r: ops.sum(r * r), X)),
                               (X * X).sum(axis=1), rtol=1e-6)
    out = ops.vectorized_map(lambda e: (e[0] + e[1], e[0] * 2.0), (X, X * 3.0))
    np.testing.assert_allclose(np_of(out[0]), X * 4.0, rtol=1e-6)
    np.testing.assert_allclose(np_of(out[1]), X * 2.0)


def test_associative_scan_matches_a_sequential_scan():
    np.testing.assert_allclose(np_of(ops.associative_scan(lambda a, b: a + b, X, axis=1)),
                               np.cumsum(X, axis=1), rtol=1e-6)
    rev = ops.associative_scan(lambda a, b: a * b, X, reverse=True)
    np.testing.assert_allclose(np_of(rev), np.flip(np.cumprod(np.flip(X, 0), 0), 0),
                               rtol=1e-6)
    pair = ops.associative_scan(lambda a, b: (a[0] + b[0], a[1] * b[1]), (X, X + 2.0))
    np.testing.assert_allclose(np_of(pair[1]), np.cumprod(X + 2.0, 0), rtol=1e-5)


# -- traced against eager ------------------------------------------------------------------

@pytest.mark.parametrize("pred", [lambda x: ops.sum(x) > 0.0, lambda x: ops.sum(x) < -99.0])
def test_cond_with_a_traced_predicate_selects(pred):
    jit_matches_eager(lambda x: ops.cond(pred(x), lambda: (x * 2.0, x[0]),
                                         lambda: (ops.sin(x), x[1] - 1.0)), X)


def test_cond_with_a_static_predicate_traces_one_branch():
    def fn(x):
        return ops.cond(True, lambda: x * 2.0, lambda: ops.sin(x))
    graph, _ = trace_function(fn, (X,), {}, name="cond")
    graph_ops = {n.op for n in graph.nodes}
    assert "sin" not in graph_ops and "where" not in graph_ops


def test_switch_with_a_traced_index():
    for shift in (-5, 0, 1, 9):   # clamped both ways
        jit_matches_eager(lambda x, s=shift: ops.switch(
            ops.argmax(ops.sum(x, axis=0)) + s,
            [lambda v: v + 1.0, lambda v: v * 3.0, lambda v: v * v], x), X)


def test_loops_traced_match_eager():
    jit_matches_eager(lambda x: ops.fori_loop(0, 4, lambda i, v: v * 0.5 + x * float(i), x), X)
    jit_matches_eager(lambda x: ops.scan(lambda c, r: (c + r, c * r), ops.zeros((3,)), x,
                                         reverse=True), X)
    jit_matches_eager(lambda x: ops.map(lambda r: ops.sum(r), x), X)
    jit_matches_eager(lambda x: ops.vectorized_map(lambda r: r * 2.0 + 1.0, x), X)
    jit_matches_eager(lambda x: ops.associative_scan(lambda a, b: a + b, x), X)
    jit_matches_eager(lambda x: ops.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * x),
                                               (0, x))[1], X)


@pytest.mark.parametrize("limit", [1, 3, 8])
def test_while_loop_traced_condition_with_maximum_iterations(limit):
    jit_matches_eager(lambda x: ops.while_loop(lambda v: ops.sum(ops.abs(v)) < 40.0,
                                               lambda v: v * 2.0, x,
                                               maximum_iterations=limit), X)


# -- gradients ----------------------------------------------------------------------------

def finite_difference(f, x, eps=1e-3):
    x = x.astype(np.float64)
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        hi, lo = x.copy(), x.copy()
        hi[idx] += eps
        lo[idx] -= eps
        g[idx] = (float(np_of(f(hi.astype(np.float32)))) -
                  float(np_of(f(lo.astype(np.float32))))) / (2 * eps)
    return g


LOSSES = {
    "cond": lambda x: ops.sum(ops.cond(ops.sum(x) > 0.0, lambda: x * x, lambda: ops.sin(x))),
    "switch": lambda x: ops.sum(ops.switch(ops.argmax(ops.sum(x, axis=0)),
                                           [lambda v: v * v, lambda v: ops.exp(v),
                                            lambda v: v * 3.0], x)),
    "fori_loop": lambda x: ops.sum(ops.fori_loop(0, 3, lambda i, v: ops.tanh(v) * x, x)),
    "scan": lambda x: ops.sum(ops.scan(lambda c, r: (c * r + r, c), ops.ones((3,)), x)[1]),
    "map": lambda x: ops.sum(ops.map(lambda r: ops.sum(r * r) * r, x)),
    "while_loop": lambda x: ops.sum(ops.while_loop(lambda v: ops.sum(ops.abs(v)) < 20.0,
                                                   lambda v: v * ops.cos(v) * 2.0, x,
                                                   maximum_iterations=4)),
    "associative_scan": lambda x: ops.sum(ops.associative_scan(lambda a, b: a * b, x)),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("x", [X, -X], ids=["x", "neg_x"])
def test_gradients_tape_and_traced_match_finite_differences(name, x):
    loss = LOSSES[name]
    fd = finite_difference(loss, x)
    eager = gk.value_and_grad(loss)(ops.convert_to_tensor(x))[1]
    traced = gk.jit(gk.value_and_grad(loss))(x)[1]
    np.testing.assert_allclose(np_of(eager), fd, rtol=2e-2, atol=2e-3)
    np.testing.assert_allclose(np_of(traced), np_of(eager), rtol=1e-4, atol=1e-5)


# -- errors ---------------------------------------------------------------------------------

def test_traced_while_loop_without_a_bound_names_the_fix():
    with pytest.raises(TracerError, match="while_loop.*fori_loop.*maximum_iterations"):
        gk.jit(lambda x: ops.while_loop(lambda v: ops.sum(v) < 9.0, lambda v: v * 2.0, x))(X)


def test_traced_loop_bounds_are_rejected():
    with pytest.raises(TracerError, match="fori_loop: `upper`"):
        gk.jit(lambda x, n: ops.fori_loop(0, n, lambda i, v: v + 1.0, x))(X, np.array(3, np.int32))
    with pytest.raises(TypeError, match="fori_loop: `lower` must be an integer"):
        ops.fori_loop(0.5, 3, lambda i, v: v, X)


def test_traced_branches_must_agree():
    with pytest.raises(ValueError, match="cond: true_fn and false_fn must return the same"):
        gk.jit(lambda x: ops.cond(ops.sum(x) > 0, lambda: x, lambda: x[0]))(X)
    with pytest.raises(ValueError, match=r"switch: branches\[0\] and branches\[1\]"):
        gk.jit(lambda x: ops.switch(ops.argmax(x[0]), [lambda: x, lambda: ops.cast(x, "int32")]))(X)
    with pytest.raises(ValueError, match="while_loop: loop_vars and body"):
        gk.jit(lambda x: ops.while_loop(lambda v: ops.sum(v) < 9.0, lambda v: v[0], x,
                                        maximum_iterations=2))(X)
    with pytest.raises(ValueError, match="cond: `pred` must be a scalar"):
        gk.jit(lambda x: ops.cond(x > 0, lambda: x, lambda: x))(X)


def test_scan_needs_something_to_scan():
    with pytest.raises(ValueError, match="scan: pass `xs`"):
        ops.scan(lambda c, x: (c, x), 0.0)


# -- symbolic (functional graphs) ----------------------------------------------------------

def test_symbolic_calls_are_nodes_that_run_and_train():
    inp = gk.Input((3,))
    h = layers.Dense(3)(inp)
    y = ops.switch(ops.argmax(ops.sum(h, axis=0)), [lambda v: v + 1.0, lambda v: v * 3.0], h)
    w = ops.while_loop(lambda v: ops.sum(v) < 10.0, lambda v: v * 2.0, y, maximum_iterations=3)
    model = gk.Model(inp, [y, w])
    assert [tuple(s) for s in model.output_shape] == [(None, 3), (None, 3)]
    x = RNG.uniform(-1, 1, (2, 3)).astype(np.float32)
    eager = model(x)
    model.compile(optimizer="sgd", loss=["mse", "mse"], jit_compile=True)
    assert_trees_close(model.predict(x, verbose=0), eager)
    with pytest.raises(TypeError, match="gk.ops.switch.*cannot be serialized"):
        model.get_config()


def test_unbounded_while_loop_in_a_model_falls_back_to_eager(caplog):
    inp = gk.Input((3,))
    h = layers.Dense(3)(inp)
    # The body grows |v| strictly, so the loop ends for any input.
    model = gk.Model(inp, ops.while_loop(lambda v: ops.sum(ops.abs(v)) < 10.0,
                                         lambda v: ops.abs(v) * 2.0 + 1.0, h))
    x = RNG.uniform(0.5, 1, (2, 3)).astype(np.float32)
    model.compile(optimizer="sgd", loss="mse", jit_compile="auto")
    with caplog.at_level("INFO", logger="graphkit.trainers"):
        assert_trees_close(model.predict(x, verbose=0), model(x))
    assert "while_loop: the loop condition is a traced value" in caplog.text
