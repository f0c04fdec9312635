"""Each optimizer's first three steps against the textbook update in float64 NumPy."""
import numpy as np
import pytest

import graphkit as gk

RNG = np.random.default_rng(0)
W0 = RNG.normal(size=(3, 4))
B0 = RNG.normal(size=(4,))
GRADS = [(RNG.normal(size=(3, 4)), RNG.normal(size=(4,))) for _ in range(3)]


def f32(x):
    """The learning rate lives in a floatx (float32) variable, as in Keras."""
    return float(np.float32(x))


def run(optimizer, dtype="float64", steps=3):
    w = gk.Variable(W0.astype(dtype), name="w")
    b = gk.Variable(B0.astype(dtype), name="b")
    history = []
    for gw, gb in GRADS[:steps]:
        optimizer.apply_gradients([(gk.ops.convert_to_tensor(gw.astype(dtype)), w),
                                   (gk.ops.convert_to_tensor(gb.astype(dtype)), b)])
        history.append((w.numpy().copy(), b.numpy().copy()))
    return history


def reference(update, state_init, steps=3):
    """`update(param, grad, state, t)` -> (param, state), t counting from 1."""
    params = [W0.copy(), B0.copy()]
    states = [state_init(p) for p in params]
    history = []
    for t, grads in enumerate(GRADS[:steps], start=1):
        for i, g in enumerate(grads):
            params[i], states[i] = update(params[i], g, states[i], t)
        history.append((params[0].copy(), params[1].copy()))
    return history


def assert_same(got, want, rtol=1e-12, atol=1e-12):
    for (gw, gb), (ww, wb) in zip(got, want):
        np.testing.assert_allclose(gw, ww, rtol=rtol, atol=atol)
        np.testing.assert_allclose(gb, wb, rtol=rtol, atol=atol)


def test_sgd_plain():
    lr = 0.1
    want = reference(lambda p, g, s, t: (p - f32(lr) * g, s), lambda p: None)
    assert_same(run(gk.optimizers.SGD(learning_rate=lr)), want)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum(nesterov):
    lr, mu = 0.05, 0.9

    def update(p, g, m, t):
        m = mu * m - f32(lr) * g
        return (p + mu * m - f32(lr) * g if nesterov else p + m), m
    want = reference(update, np.zeros_like)
    assert_same(run(gk.optimizers.SGD(lr, momentum=mu, nesterov=nesterov)), want)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam(amsgrad):
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7

    def update(p, g, s, t):
        m, v, vhat = s
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vhat = np.maximum(vhat, v)
        alpha = f32(lr) * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)  # Keras: correction in the step
        denom = np.sqrt(vhat if amsgrad else v) + eps        # epsilon outside the sqrt
        return p - alpha * m / denom, (m, v, vhat)
    want = reference(update, lambda p: (np.zeros_like(p),) * 3)
    assert_same(run(gk.optimizers.Adam(lr, amsgrad=amsgrad)), want, rtol=1e-10)


def test_adamw_decays_before_the_adam_step():
    lr, wd, b1, b2, eps = 0.01, 0.1, 0.9, 0.999, 1e-7

    def update(p, g, s, t):
        m, v = s
        p = p - p * wd * f32(lr)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        alpha = f32(lr) * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        return p - alpha * m / (np.sqrt(v) + eps), (m, v)
    want = reference(update, lambda p: (np.zeros_like(p),) * 2)
    assert_same(run(gk.optimizers.AdamW(lr, weight_decay=wd)), want, rtol=1e-10)


@pytest.mark.parametrize("centered,momentum", [(False, 0.0), (True, 0.0), (False, 0.5),
                                               (True, 0.5)])
def test_rmsprop(centered, momentum):
    lr, rho, eps = 0.01, 0.9, 1e-7

    def update(p, g, s, t):
        v, a, mom = s
        v = rho * v + (1 - rho) * g * g
        a = rho * a + (1 - rho) * g
        denom = v - a * a + eps if centered else v + eps
        inc = f32(lr) * g / np.sqrt(denom)
        if momentum > 0:
            mom = momentum * mom + inc
            return p - mom, (v, a, mom)
        return p - inc, (v, a, mom)
    want = reference(update, lambda p: (np.zeros_like(p),) * 3)
    opt = gk.optimizers.RMSprop(lr, rho=rho, momentum=momentum, centered=centered)
    assert_same(run(opt), want, rtol=1e-10)


def test_adagrad():
    lr, init, eps = 0.1, 0.1, 1e-7

    def update(p, g, acc, t):
        acc = acc + g * g
        return p - f32(lr) * g / np.sqrt(acc + eps), acc
    want = reference(update, lambda p: np.full_like(p, init))
    assert_same(run(gk.optimizers.Adagrad(lr, initial_accumulator_value=init)), want)


def test_float32_variables_match_float64_reference_closely():
    lr = 0.01
    b1, b2, eps = 0.9, 0.999, 1e-7

    def update(p, g, s, t):
        m, v = s
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        alpha = f32(lr) * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        return p - alpha * m / (np.sqrt(v) + eps), (m, v)
    want = reference(update, lambda p: (np.zeros_like(p),) * 2)
    got = run(gk.optimizers.Adam(lr), dtype="float32")
    assert got[0][0].dtype == np.float32
    assert_same(got, want, rtol=1e-5, atol=1e-6)


def test_state_variables_iterations_and_slot_paths():
    opt = gk.optimizers.Adam(0.01)
    assert [v.path for v in opt.variables] == ["adam/iteration", "adam/learning_rate"]
    run(opt, steps=2)
    assert int(opt.iterations.numpy()) == 2
    names = [v.path for v in opt.variables]
    assert names == ["adam/iteration", "adam/learning_rate", "adam/w_momentum",
                     "adam/w_velocity", "adam/b_momentum", "adam/b_velocity"]
    assert all(not v.trainable for v in opt.variables)


def test_apply_without_variables_uses_the_built_list_and_checks_counts():
    w = gk.Variable(np.ones(2), name="w")
    opt = gk.optimizers.SGD(0.5)
    with pytest.raises(ValueError, match="not built"):
        opt.apply([np.ones(2)])
    opt.build([w])
    opt.apply([gk.ops.convert_to_tensor(np.ones(2))])
    np.testing.assert_allclose(w.numpy(), [0.5, 0.5])
    with pytest.raises(ValueError, match="2 gradients for 1 variables"):
        opt.apply([np.ones(2), np.ones(2)])


def test_unknown_variable_is_rejected():
    w = gk.Variable(np.ones(2), name="w")
    other = gk.Variable(np.ones(2), name="other")
    opt = gk.optimizers.SGD(0.1)
    opt.apply_gradients([(np.ones(2), w)])
    with pytest.raises(ValueError, match="unknown variable 'other'"):
        opt.apply_gradients([(np.ones(2), other)])


def test_none_gradients_are_skipped_with_a_warning():
    w = gk.Variable(np.ones(2), name="w")
    b = gk.Variable(np.ones(2), name="b")
    opt = gk.optimizers.SGD(1.0)
    with pytest.warns(UserWarning, match="Gradients do not exist for variables"):
        opt.apply_gradients([(np.ones(2), w), (None, b)])
    np.testing.assert_allclose(w.numpy(), [0, 0])
    np.testing.assert_allclose(b.numpy(), [1, 1])
    with pytest.raises(ValueError, match="no gradients provided"):
        opt.apply_gradients([(None, w), (None, b)])


def test_learning_rate_is_a_settable_variable():
    opt = gk.optimizers.SGD(0.1)
    assert isinstance(opt.learning_rate, gk.Variable)
    opt.learning_rate = 0.25
    assert float(opt.learning_rate.numpy()) == pytest.approx(0.25)
    w = gk.Variable(np.ones(1), name="w")
    opt.apply_gradients([(np.ones(1), w)])
    np.testing.assert_allclose(w.numpy(), [0.75])


def test_callable_learning_rate_and_bad_learning_rate():
    w = gk.Variable(np.ones(1), name="w")
    opt = gk.optimizers.SGD(learning_rate=lambda: 0.5)
    opt.apply_gradients([(np.ones(1), w)])
    np.testing.assert_allclose(w.numpy(), [0.5])
    with pytest.raises(ValueError, match="learning_rate"):
        gk.optimizers.SGD(learning_rate="fast")


@pytest.mark.parametrize("cls", [gk.optimizers.SGD, gk.optimizers.Adam, gk.optimizers.AdamW,
                                 gk.optimizers.RMSprop, gk.optimizers.Adagrad])
def test_config_round_trip(cls):
    opt = cls(learning_rate=0.02, clipnorm=1.5)
    config = opt.get_config()
    assert config["learning_rate"] == pytest.approx(0.02)
    clone = cls.from_config(config)
    assert clone.get_config() == config
    restored = gk.optimizers.deserialize(gk.optimizers.serialize(opt))
    assert type(restored) is cls and restored.get_config() == config


def test_get_by_name_and_close_match_error():
    assert isinstance(gk.optimizers.get("adam"), gk.optimizers.Adam)
    assert isinstance(gk.optimizers.get("RMSprop"), gk.optimizers.RMSprop)
    opt = gk.optimizers.SGD()
    assert gk.optimizers.get(opt) is opt
    with pytest.raises(ValueError, match="Did you mean 'adam'"):
        gk.optimizers.get("adamm")
    with pytest.raises(ValueError, match="Could not interpret optimizer"):
        gk.optimizers.get(3)


def test_unsupported_and_conflicting_arguments_are_named():
    with pytest.raises(ValueError, match="only one of `clipnorm`"):
        gk.optimizers.SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="not recognized"):
        gk.optimizers.Adam(betaa=0.9)
    with pytest.raises(ValueError, match="ema_momentum"):
        gk.optimizers.Adam(use_ema=True, ema_momentum=1.5)
    with pytest.raises(ValueError, match="ema_overwrite_frequency"):
        gk.optimizers.Adam(use_ema=True, ema_overwrite_frequency=0.5)
    with pytest.raises(ValueError, match="weight_decay"):
        gk.optimizers.AdamW(weight_decay=None)


def test_optimizer_state_round_trips_through_weights():
    opt = gk.optimizers.Adam(0.01)
    run(opt, steps=2)
    saved = opt.get_weights()
    store = {}
    opt.save_own_variables(store)
    run_opt = gk.optimizers.Adam(0.01)
    w = gk.Variable(W0, name="w")
    b = gk.Variable(B0, name="b")
    run_opt.build([w, b])
    run_opt.load_own_variables(store)
    for a, b_ in zip(run_opt.get_weights(), saved):
        np.testing.assert_array_equal(a, b_)
    with pytest.raises(ValueError, match="has 2 variables but the saved state has 6"):
        gk.optimizers.Adam(0.01).load_own_variables(store)
