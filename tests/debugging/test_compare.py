"""gk.debugging.compare: eager vs compiled per output and per op, state left as eager leaves
it, assert_close on an injected divergence, and ULP distances checked by hand."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers, naming, ops
from graphkit.compiler import executable
from graphkit.debugging import compare, ulp_distance
from graphkit.ir import interpreter

RNG = np.random.default_rng(3)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def test_a_function_matches_and_the_report_measures_each_output():
    def f(x, y):
        return {"prod": ops.exp(x) * y, "total": ops.sum(x * y)}

    x, y = f32(4, 3), f32(3)
    report = compare(f, x, y)
    assert [r.name for r in report.rows] == ["out['prod']", "out['total']"]
    want = np.exp(x.astype(np.float64)) * y
    prod = report.rows[0]
    np.testing.assert_allclose(prod.reference, want, rtol=1e-6)
    expected_abs = np.abs(prod.compiled.astype(np.float64) - prod.reference).max()
    assert prod.max_abs_error == pytest.approx(expected_abs)
    assert report.max_abs_error == max(r.max_abs_error for r in report.rows)
    assert report.max_ulp <= 4
    report.assert_close(rtol=1e-5, atol=1e-6)
    text = str(report)
    assert "max ulp" in text and "out['total']" in text and "ok" in text


def test_a_functional_model():
    inputs = gk.Input(shape=(5,))
    hidden = layers.Dense(8, activation="relu")(inputs)
    model = gk.Model(inputs, layers.Dense(2)(hidden))
    report = compare(model, f32(6, 5))
    assert len(report.rows) == 1 and report.rows[0].type == "f32[6,2]"
    report.assert_close()


def test_value_and_grad_of_a_layer_matches():
    dense = layers.Dense(3, activation="tanh")
    dense.build((None, 4))

    def loss_and_grads(x):
        def loss(x):
            return ops.mean(dense(x) ** 2)
        value, dx = gk.value_and_grad(loss)(x)
        with gk.GradientTape() as tape:
            y = loss(x)
        dw = tape.gradient(y, dense.trainable_variables)
        return value, dx, dw

    x = f32(5, 4)
    report = compare(loss_and_grads, x)
    assert len(report.rows) == 4  # value, d/dx, d/dkernel, d/dbias
    report.assert_close(rtol=1e-4, atol=1e-6)
    # The eager gradient itself is right (finite differences on the input).
    dx = report.rows[1].reference
    eps, i = 1e-2, (2, 1)
    bump = np.zeros_like(x)
    bump[i] = eps
    num = (ops.mean(dense(x + bump) ** 2).numpy() - ops.mean(dense(x - bump) ** 2).numpy())
    assert dx[i] == pytest.approx(num / (2 * eps), rel=1e-2, abs=1e-4)


def test_variables_end_as_one_eager_run_left_them():
    acc = gk.Variable(np.ones(3, np.float32), name="acc")
    count = gk.Variable(np.int64(0), name="count", trainable=False)

    def step(x):
        acc.assign(acc * 0.5 + ops.sum(x, axis=0))
        count.assign_add(1)
        return acc.value * 2.0

    x = f32(4, 3)
    report = compare(step, x)
    np.testing.assert_allclose(acc.numpy(), 0.5 + x.sum(axis=0), rtol=1e-6)
    assert count.numpy() == 1  # applied once, not once per run
    assert [r.name for r in report.state_rows] == ["var:acc", "var:count"]
    report.assert_close()


class _ExpOffExecutable(executable.InterpreterExecutable):
    """The reference backend with a wrong `exp`: 0.1% too large."""

    backend = "exp_off"

    def run(self, inputs):
        real = interpreter.eval_node

        def wrong(node, arrays):
            outs = real(node, arrays)
            return [o * np.float32(1.001) for o in outs] if node.op == "exp" else outs
        interpreter.eval_node = wrong
        try:
            return super().run(inputs)
        finally:
            interpreter.eval_node = real


@pytest.fixture
def exp_off(monkeypatch):
    monkeypatch.setitem(executable._BACKENDS, "exp_off", _ExpOffExecutable)
    return "exp_off"


def test_per_op_names_the_first_op_that_diverges_by_layer_path(exp_off):
    model = gk.Sequential([layers.Dense(4, activation="tanh", name="encoder"),
                           layers.Dense(3, activation="softmax", name="head")])
    x = f32(2, 5)
    model(x)
    report = compare(model, x, per_op=True, backend=exp_off)
    assert len(report.rows) > 6 and all(r.op for r in report.rows)
    first = report.first_divergence
    assert first.op == "exp" and first.layer.endswith("head")
    assert first.where().startswith("op 'exp' at 'sequential/head")
    # Everything the encoder computed is still right; the divergence starts in the head.
    index = report.rows.index(first)
    assert all(r.is_close() for r in report.rows[:index])
    assert any(r.layer.startswith("sequential/encoder") for r in report.rows[:index])
    assert "first divergence: op 'exp'" in str(report)
    # With the correct backend nothing diverges.
    assert compare(model, x, per_op=True, backend="interpreter").first_divergence is None


def test_per_op_on_a_plain_function_with_name_scopes(exp_off):
    def f(x):
        with naming.name_scope("features"):
            h = ops.tanh(x) * 3.0
        with naming.name_scope("scores"):
            return ops.exp(h) + 1.0

    report = compare(f, f32(3, 2), per_op=True, backend=exp_off)
    assert [r.op for r in report.rows] == ["tanh", "multiply", "exp", "add"]
    assert report.first_divergence.where() == f"op 'exp' at 'scores' ({report.rows[2].name})"


def test_assert_close_fails_on_an_injected_divergence(monkeypatch):
    real_run = executable.InterpreterExecutable.run

    def off_by_a_bit(self, inputs):
        return [o + np.float32(1e-3) for o in real_run(self, inputs)]
    monkeypatch.setattr(executable.InterpreterExecutable, "run", off_by_a_bit)

    report = compare(lambda x: x * 2.0, np.ones(4, np.float32), backend="interpreter")
    assert report.max_abs_error == pytest.approx(1e-3, rel=1e-3)
    assert report.max_rel_error == pytest.approx(5e-4, rel=1e-3)
    report.assert_close(atol=2e-3)
    with pytest.raises(AssertionError, match=r"(?s)1 of 1 values differ.*first: out;.*"
                                             r"DIVERGES") as err:
        report.assert_close(rtol=1e-5, atol=1e-6)
    assert "max ulp" in str(err.value)


def test_ulp_distance_against_hand_computed_bits():
    one = np.float32(1.0)
    assert ulp_distance(one, np.nextafter(one, np.float32(2))) == 1
    # 1.0f is 0x3F800000 and 1.5f is 0x3FC00000: 0x400000 floats apart.
    assert ulp_distance(one, np.float32(1.5)) == 0x400000
    tiny = np.float32(1e-45)  # the smallest subnormal, bits 0x00000001
    assert ulp_distance(-tiny, tiny) == 2
    assert ulp_distance(np.float32(0.0), np.float32(-0.0)) == 0
    # -1.0 to 1.0 crosses zero: 2 * 0x3F800000.
    assert ulp_distance(np.float32(-1.0), one) == 2 * 0x3F800000
    big = np.float64(1e300)
    assert ulp_distance(big, np.nextafter(np.nextafter(big, np.inf), np.inf)) == 2
    assert ulp_distance(np.float16(1.0), np.float16(1.0009765625)) == 1  # 2**-10 step
    nan = np.float32("nan")
    assert ulp_distance(nan, nan) == 0
    assert ulp_distance(nan, one) == np.iinfo(np.uint64).max
    with pytest.raises(TypeError, match="float32 and float64"):
        ulp_distance(one, np.float64(1.0))


def test_report_ulp_and_errors_on_arrays():
    from graphkit.debugging.diff import ArrayDiff
    ref = np.array([1.0, -2.0, 0.0, np.nan], np.float32)
    got = ref.copy()
    got[1] = np.nextafter(np.nextafter(ref[1], np.float32(-3)), np.float32(-3))
    d = ArrayDiff(ref, got)
    assert d.max_ulp == 2 and d.max_abs == pytest.approx(2 * 2.0 ** -22)
    assert d.is_close(1e-6, 0)
    got[2] = 1e-3
    d = ArrayDiff(ref, got)
    assert d.max_rel == float("inf") and not d.is_close(1e-6, 0) and d.is_close(0, 2e-3)
    mismatch = ArrayDiff(ref, ref[:2])
    assert mismatch.max_abs == float("inf") and "expected float32[4], got float32[2]" \
        in mismatch.mismatch


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="expected a function, layer or model, received int"):
        compare(3, np.ones(2))
