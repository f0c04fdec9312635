"""Adam's eager NumPy update (used when no tape or trace is active) against its ops form
(which runs under a GradientTape), and the in-place update of donated arrays."""
import numpy as np

import graphkit as gk
from graphkit.core import scopes

RNG = np.random.default_rng(3)
W0 = RNG.normal(size=(5, 4)).astype("float32")
B0 = RNG.normal(size=(4,)).astype("float32")
GRADS = [(RNG.normal(size=(5, 4)).astype("float32"), RNG.normal(size=(4,)).astype("float32"))
         for _ in range(3)]


def run(force_ops_path, **adam_kwargs):
    w, b = gk.Variable(W0, name="w"), gk.Variable(B0, name="b")
    opt = gk.optimizers.Adam(learning_rate=0.01, **adam_kwargs)
    for gw, gb in GRADS:
        grads = [(gk.ops.convert_to_tensor(gw), w), (gk.ops.convert_to_tensor(gb), b)]
        if force_ops_path:
            with gk.GradientTape():    # an active tape: the update must run on ops
                opt.apply_gradients(grads)
        else:
            opt.apply_gradients(grads)
    return [w.numpy(), b.numpy()] + [v.numpy() for v in opt.variables[2:]]


def test_eager_path_matches_the_ops_path():
    for got, want in zip(run(False), run(True)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_eager_path_matches_the_ops_path_with_weight_decay_and_clipping():
    kwargs = {"weight_decay": 0.1, "clipnorm": 0.5}
    for got, want in zip(run(False, **kwargs), run(True, **kwargs)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_arrays_are_overwritten_only_when_donated():
    w = gk.Variable(W0, name="w")
    opt = gk.optimizers.Adam(learning_rate=0.01)
    opt.build([w])
    held = w.value.numpy()                                   # someone holds the old value
    opt.apply_gradients([(gk.ops.convert_to_tensor(GRADS[0][0]), w)])
    np.testing.assert_array_equal(held, W0)            # not donated: a new array
    assert w.value.numpy() is not held
    # The first donated step lays the flat buffers out (new arrays, see FlatSlots); from
    # then on, donated arrays are updated in place.
    for gradient in (GRADS[1][0], GRADS[2][0]):
        arrays = [w.value.numpy()] + [v.value.numpy() for v in opt.variables]
        before = [a.copy() for a in arrays]
        with scopes.donated(arrays):
            opt.apply_gradients([(gk.ops.convert_to_tensor(gradient), w)])
    assert w.value.numpy() is arrays[0]                      # donated: updated in place
    assert not np.array_equal(arrays[0], before[0])


def donated_steps(variables, opt, grads, reassign=None):
    """Apply `grads` (one list per step) with every array donated, as a training step does;
    `reassign(step)` may give the variables new values before a step."""
    for step, gs in enumerate(grads):
        if reassign is not None:
            reassign(step)
        arrays = [v.value.numpy() for v in variables + opt.variables]
        with scopes.donated(arrays):
            opt.apply_gradients([(gk.ops.convert_to_tensor(g), v)
                                 for g, v in zip(gs, variables)])
    return [v.numpy() for v in variables + opt.variables[2:]]


def per_variable_steps(variables, opt, grads, reassign=None):
    """The same steps, each variable updated on its own (nothing donated: copies)."""
    for step, gs in enumerate(grads):
        if reassign is not None:
            reassign(step)
        opt.apply_gradients([(gk.ops.convert_to_tensor(g), v) for g, v in zip(gs, variables)])
    return [v.numpy() for v in variables + opt.variables[2:]]


def test_the_flat_update_gives_the_per_variable_bits():
    # Elementwise the same ufuncs in the same order: equal, not merely close.
    def make():
        return [gk.Variable(W0, name="w"), gk.Variable(B0, name="b")], \
            gk.optimizers.Adam(learning_rate=0.01)
    variables, opt = make()
    flat = donated_steps(variables, opt, GRADS)
    assert opt._flat_slots is not None and opt._flat_rebuilds == 0
    variables, opt = make()
    for got, want in zip(flat, per_variable_steps(variables, opt, GRADS)):
        np.testing.assert_array_equal(got, want)


def test_a_variable_assigned_between_steps_is_laid_out_again():
    def make():
        return [gk.Variable(W0, name="w"), gk.Variable(B0, name="b")], \
            gk.optimizers.Adam(learning_rate=0.01)

    def reassigner(variables):
        def reassign(step):
            if step == 1:  # a user's set_weights in the middle of training
                variables[0].assign(np.full_like(W0, 0.5))
        return reassign
    variables, opt = make()
    flat = donated_steps(variables, opt, GRADS, reassigner(variables))
    variables, opt = make()
    want = per_variable_steps(variables, opt, GRADS, reassigner(variables))
    for got, expected in zip(flat, want):
        np.testing.assert_array_equal(got, expected)


def test_variables_of_two_dtypes_are_not_laid_out_together():
    w = gk.Variable(W0.astype("float64"), name="w")
    b = gk.Variable(B0, name="b")
    opt = gk.optimizers.Adam(learning_rate=0.01)
    donated_steps([w, b], opt, [(gw.astype("float64"), gb) for gw, gb in GRADS])
    assert opt.__dict__.get("_flat_slots") is None
    assert w.numpy().dtype == np.float64


def test_the_flat_layout_is_given_up_when_every_step_reassigns():
    variables = [gk.Variable(W0, name="w"), gk.Variable(B0, name="b")]
    opt = gk.optimizers.Adam(learning_rate=0.01)
    grads = GRADS * 3

    def reassign(step):
        variables[1].assign(variables[1].numpy())
    donated_steps(variables, opt, grads, reassign)
    layout = opt._flat_slots
    donated_steps(variables, opt, GRADS[:1], reassign)
    assert opt._flat_slots is layout     # no new layout: the per-variable update ran


def test_eager_training_leaves_arrays_the_user_holds_alone():
    model = gk.Sequential([gk.Input((5,)), gk.layers.Dense(4)])
    model.compile(optimizer=gk.optimizers.Adam(0.01), loss="mse", run_eagerly=True)
    kernel = model.layers[0].kernel
    held = kernel.value.numpy()
    snapshot = held.copy()
    x, y = RNG.normal(size=(8, 5)).astype("float32"), RNG.normal(size=(8, 4)).astype("float32")
    for _ in range(3):
        model.train_on_batch(x, y)
    np.testing.assert_array_equal(held, snapshot)
    assert not np.array_equal(kernel.numpy(), snapshot)


def test_a_subclass_update_step_is_called_for_every_variable():
    calls = []

    class Counting(gk.optimizers.Adam):
        def update_step(self, gradient, variable, learning_rate):
            calls.append(variable.name)
            super().update_step(gradient, variable, learning_rate)

    w, b = gk.Variable(W0, name="w"), gk.Variable(B0, name="b")
    opt = Counting(learning_rate=0.01)
    gw, gb = GRADS[0]
    opt.apply_gradients([(gk.ops.convert_to_tensor(gw), w), (gk.ops.convert_to_tensor(gb), b)])
    assert calls == ["w", "b"]


def test_variables_of_two_dtypes_in_one_step_match_a_float64_reference():
    # One step size per dtype: float64 weights must not get the float32 step size.
    w = gk.Variable(W0.astype("float64"), name="w")
    b = gk.Variable(B0, name="b")
    opt = gk.optimizers.Adam(learning_rate=0.01)
    m = {"w": np.zeros_like(W0, "float64"), "b": np.zeros_like(B0, "float64")}
    v = {"w": np.zeros_like(W0, "float64"), "b": np.zeros_like(B0, "float64")}
    want = {"w": W0.astype("float64"), "b": B0.astype("float64")}
    for t, (gw, gb) in enumerate(GRADS, start=1):
        opt.apply_gradients([(gk.ops.convert_to_tensor(gw.astype("float64")), w),
                             (gk.ops.convert_to_tensor(gb), b)])
        lr = float(np.float32(0.01))  # the learning-rate variable is float32
        alpha = lr * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
        for name, g in (("w", gw.astype("float64")), ("b", gb.astype("float64"))):
            m[name] += (g - m[name]) * 0.1
            v[name] += (g * g - v[name]) * 0.001
            want[name] -= alpha * m[name] / (np.sqrt(v[name]) + 1e-7)
    assert w.numpy().dtype == np.float64
    np.testing.assert_allclose(w.numpy(), want["w"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b.numpy(), want["b"], rtol=1e-5, atol=1e-6)


def test_large_variables_are_not_laid_out(monkeypatch):
    # The copy of the gradients would cost more than the calls it saves.
    from graphkit.optimizers import flat_slots
    monkeypatch.setattr(flat_slots, "MAX_MEAN_SIZE", 4)   # W0 and B0 average 12 elements
    variables = [gk.Variable(W0, name="w"), gk.Variable(B0, name="b")]
    opt = gk.optimizers.Adam(learning_rate=0.01)
    got = donated_steps(variables, opt, GRADS)
    assert opt.__dict__.get("_flat_slots") is None
    variables = [gk.Variable(W0, name="w"), gk.Variable(B0, name="b")]
    want = per_variable_steps(variables, gk.optimizers.Adam(learning_rate=0.01), GRADS)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
