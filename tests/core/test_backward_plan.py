"""Backward plans (core/backward_plan.py): an eager backward pass made once by the walk,
checked bit for bit against the second walk of the same structure, then replayed; any
change of structure, shape or dtype gets a plan of its own, and what cannot be planned
faithfully is walked."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import ops
from graphkit.core import backward_plan
from graphkit.core import tape as tape_module
from graphkit.ops.primitive import PRIMITIVES, Primitive

RNG = np.random.default_rng(11)


@pytest.fixture(autouse=True)
def no_plans(monkeypatch):
    """Each test starts with no plans and leaves none behind."""
    monkeypatch.setattr(backward_plan, "_PLANS", [])


@pytest.fixture
def runs(monkeypatch):
    """Counts the plan replays."""
    count = {"n": 0}
    original = backward_plan.BackwardPlan.run

    def run(self, arrays):
        count["n"] += 1
        return original(self, arrays)
    monkeypatch.setattr(backward_plan.BackwardPlan, "run", run)
    return count


def mlp_loss(params, x, y):
    w1, b1, w2, b2 = params
    h = ops.relu(ops.add(ops.matmul(x, w1), b1))
    logits = ops.add(ops.matmul(h, w2), b2)
    p = ops.sigmoid(logits)
    # a value used twice (p), a broadcast (b1, b2), a reduction and a scalar constant
    return ops.mean(ops.square(ops.subtract(p, y))) + 0.1 * ops.mean(ops.multiply(p, p))


def params(dtype="float32"):
    return [ops.convert_to_tensor(RNG.normal(size=s).astype(dtype))
            for s in ((6, 5), (5,), (5, 3), (3,))]


def batch(n, dtype="float32"):
    return (ops.convert_to_tensor(RNG.normal(size=(n, 6)).astype(dtype)),
            ops.convert_to_tensor(RNG.uniform(size=(n, 3)).astype(dtype)))


def walked(monkeypatch, fn, *args):
    """`fn`'s gradients by the walk alone."""
    with monkeypatch.context() as m:
        m.setattr(tape_module.GradientTape, "_planned", lambda self, walk, *a: walk())
        return fn(*args)


def assert_same_bits(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


def test_a_plan_is_made_then_checked_then_replayed(runs):
    grad = gk.value_and_grad(mlp_loss)
    p, (x, y) = params(), batch(8)
    grad(p, x, y)
    (plan,) = backward_plan._PLANS
    assert plan.trusted is None and runs["n"] == 0      # made by the first walk
    grad(p, x, y)
    assert plan.trusted is True and runs["n"] == 1      # checked against the second
    for _ in range(3):
        grad(p, x, y)
    assert runs["n"] == 4 and len(backward_plan._PLANS) == 1


def test_replayed_gradients_are_the_walks_bits(monkeypatch, runs):
    grad = gk.value_and_grad(mlp_loss)
    steps = [(params(), *batch(8)) for _ in range(4)]
    replayed = [grad(*step)[1] for step in steps]
    assert runs["n"] >= 3
    for got, step in zip(replayed, steps):
        assert_same_bits(got, walked(monkeypatch, grad, *step)[1])


def test_calls_on_constants_alone_run_once_when_the_plan_is_made(monkeypatch, runs):
    # The seed's ones (and what a rule makes of constants alone) are computed when the plan
    # is made; the replay runs only the calls that read the forward pass, same bits.
    def loss(w, x):
        return ops.sum(ops.multiply(ops.multiply(x, w), ops.ones_like(x) * 3.0))
    grad = gk.value_and_grad(loss)
    w, x = ops.convert_to_tensor(np.float32(2.0)), batch(4)[0]
    grad(w, x)
    (plan,) = backward_plan._PLANS
    full = PRIMITIVES["full"].eager
    assert all(kernel is not full for kernel, *_ in plan.steps)
    assert sum(t is not None for t in plan.template) >= 1
    for _ in range(3):
        got = grad(w, x)[1]
    assert runs["n"] == 3
    assert_same_bits([got], [walked(monkeypatch, grad, w, x)[1]])


def test_the_gradients_match_float64_finite_differences():
    grad = gk.value_and_grad(mlp_loss)
    p, (x, y) = params("float64"), batch(4, "float64")
    for _ in range(3):                                   # the third one is replayed
        _, grads = grad(p, x, y)
    base = [np.asarray(t).copy() for t in p]
    eps = 1e-6
    for i, (g, value) in enumerate(zip(grads, base)):
        numeric = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            def loss_at(delta):
                shifted = [v.copy() for v in base]
                shifted[i][idx] += delta
                return float(mlp_loss([ops.convert_to_tensor(s) for s in shifted], x, y))
            numeric[idx] = (loss_at(eps) - loss_at(-eps)) / (2 * eps)
        np.testing.assert_allclose(np.asarray(g), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("change", ["batch", "dtype"])
def test_another_shape_or_dtype_gets_its_own_plan(monkeypatch, change):
    grad = gk.value_and_grad(mlp_loss)
    p, (x, y) = params(), batch(8)
    for _ in range(3):
        grad(p, x, y)
    if change == "batch":
        other = (p, *batch(5))
    else:
        other = (params("float64"), *batch(8, "float64"))
    got = [grad(*other)[1] for _ in range(3)][-1]
    assert len(backward_plan._PLANS) == 2
    assert_same_bits(got, walked(monkeypatch, grad, *other)[1])


def test_a_plan_that_does_not_give_the_walks_bits_is_not_used(monkeypatch, runs):
    monkeypatch.setattr(backward_plan, "same_gradients", lambda got, want: False)
    grad = gk.value_and_grad(mlp_loss)
    p, (x, y) = params(), batch(8)
    for _ in range(4):
        _, grads = grad(p, x, y)
    (plan,) = backward_plan._PLANS
    assert plan.trusted is False and runs["n"] == 1      # run once, for the check only
    assert_same_bits(grads, walked(monkeypatch, grad, p, x, y)[1])


def test_no_plan_for_a_primitive_from_outside_graphkit():
    # A rule defined elsewhere may branch on values: it is walked, never replayed.
    def grad_rule(ct, out, x):
        return (ops.multiply(ct, 3.0),)
    triple = Primitive("test_plan_triple", eager=lambda x: x * 3,
                       infer=lambda x: x, grad=grad_rule, category="elementwise")
    try:
        def loss(w):
            from graphkit.ops.primitive import bind
            return ops.sum(bind(triple, w))
        grad = gk.value_and_grad(loss)
        w = ops.convert_to_tensor(np.ones(3, "float32"))
        for _ in range(3):
            _, g = grad(w)
        np.testing.assert_array_equal(np.asarray(g), np.full(3, 3.0, "float32"))
        assert backward_plan._PLANS == []
    finally:
        del PRIMITIVES["test_plan_triple"]


def test_no_plan_when_checking_numerics_or_for_a_persistent_tape():
    grad = gk.value_and_grad(mlp_loss)
    p, (x, y) = params(), batch(8)
    gk.config.set_check_numerics(True)
    try:
        grad(p, x, y)
    finally:
        gk.config.set_check_numerics(False)
    assert backward_plan._PLANS == []
    w = p[0]
    with gk.GradientTape(persistent=True) as tape:
        tape.watch(w)
        loss = ops.sum(ops.square(w))
    tape.gradient(loss, w)
    tape.gradient(loss, w)
    assert backward_plan._PLANS == []


def test_a_tape_recording_the_backward_pass_still_sees_it():
    # Second derivatives: the outer tape must record the inner backward's ops.
    x = ops.convert_to_tensor(np.float64(1.5))
    for _ in range(3):
        with gk.GradientTape() as outer:
            outer.watch(x)
            with gk.GradientTape() as inner:
                inner.watch(x)
                y = ops.multiply(ops.multiply(x, x), x)
            dy = inner.gradient(y, x)
        d2y = outer.gradient(dy, x)
        np.testing.assert_allclose(np.asarray(dy), 3 * 1.5 ** 2)
        np.testing.assert_allclose(np.asarray(d2y), 6 * 1.5)


@pytest.mark.parametrize("kind", ["mlp", "cnn", "rnn", "attention"])
def test_models_of_every_kind_train_to_the_walks_bits(monkeypatch, kind):
    # Dropout draws, BatchNormalization's statistics, masks, recurrences and attention:
    # whatever the rules decide, the replayed plan must give the walk's weights.
    rng = np.random.default_rng(5)
    if kind == "mlp":
        x = rng.normal(size=(16, 6)).astype("float32")
        y = rng.uniform(size=(16, 3)).astype("float32")
        loss = "mse"

        def build():
            return gk.Sequential([gk.Input((6,)), gk.layers.Dense(5, activation="relu"),
                                  gk.layers.Dense(3, activation="sigmoid")])
    elif kind == "cnn":
        x = rng.normal(size=(8, 10, 10, 2)).astype("float32")
        y = rng.integers(0, 3, size=(8,))
        loss = "sparse_categorical_crossentropy"

        def build():
            return gk.Sequential([
                gk.Input((10, 10, 2)), gk.layers.Conv2D(4, 3, activation="relu"),
                gk.layers.BatchNormalization(), gk.layers.MaxPooling2D(),
                gk.layers.Flatten(), gk.layers.Dropout(0.3, seed=1),
                gk.layers.Dense(3, activation="softmax")])
    elif kind == "rnn":
        x = rng.integers(1, 20, size=(6, 7))
        x[:, 5:] = 0                                 # padding, masked by the embedding
        y = rng.normal(size=(6, 2)).astype("float32")
        loss = "mse"

        def build():
            return gk.Sequential([
                gk.Input((7,), dtype="int32"),
                gk.layers.Embedding(20, 5, mask_zero=True),
                gk.layers.LSTM(4), gk.layers.Dense(2)])
    else:
        x = rng.normal(size=(4, 5, 8)).astype("float32")
        y = rng.normal(size=(4, 5, 8)).astype("float32")
        loss = "mse"

        def build():
            inputs = gk.Input((5, 8))
            h = gk.layers.MultiHeadAttention(2, 4)(inputs, inputs)
            outputs = gk.layers.LayerNormalization()(gk.layers.Add()([inputs, h]))
            return gk.Model(inputs, outputs)

    def train():
        gk.utils.set_random_seed(3)
        model = build()
        model.compile(optimizer=gk.optimizers.Adam(0.01), loss=loss, run_eagerly=True)
        for _ in range(5):
            model.train_on_batch(x, y)
        return [ops.convert_to_tensor(w) for w in model.get_weights()]
    planned = train()
    assert any(plan.trusted for plan in backward_plan._PLANS)
    assert_same_bits(planned, walked(monkeypatch, train))
