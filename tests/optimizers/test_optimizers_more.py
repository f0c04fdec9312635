"""Adamax, Nadam, Adadelta, Lion, Ftrl and Lamb: several steps against the papers' (Keras's)
formulas in float64 NumPy, compiled against eager training, configs and saved state."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers, saving

from tests.optimizers.test_optimizers import assert_same, reference, run

STEPS = 3
LR = 0.01
LR32 = float(np.float32(LR))  # the learning rate lives in a float32 variable, as in Keras


def keras_preprocessed(update, weight_decay=0.0, clipnorm=None):
    """`update` after what Keras's `apply` does first: clip each gradient to `clipnorm`,
    then decay the parameter (`p -= p * weight_decay * lr`, decoupled weight decay)."""
    def step(p, g, state, t):
        if clipnorm is not None:
            g = g * clipnorm / max(np.sqrt(np.sum(g ** 2)), clipnorm)
        return update(p - p * weight_decay * LR32, g, state, t)
    return step


def check(optimizer, update, state_init, extra):
    want = reference(keras_preprocessed(update, **extra), state_init, steps=STEPS)
    assert_same(run(optimizer, steps=STEPS), want, rtol=1e-10)


def adam_moments(m, v, g, beta_1, beta_2):
    """Keras's first and second moment updates, m + (g - m)(1 - beta_1) and likewise v."""
    return m + (g - m) * (1 - beta_1), v + (g * g - v) * (1 - beta_2)


def zeros_pair(p):
    return np.zeros_like(p), np.zeros_like(p)


EXTRAS = [{}, {"weight_decay": 0.05}, {"clipnorm": 0.5}]
EXTRA_IDS = ["plain", "weight_decay", "clipnorm"]


# -- the updates against NumPy ------------------------------------------------------------------

@pytest.mark.parametrize("extra", EXTRAS, ids=EXTRA_IDS)
def test_adamax(extra):
    beta_1, beta_2, eps = 0.8, 0.95, 1e-7

    def update(p, g, state, t):
        m, u = state
        m = m + (g - m) * (1 - beta_1)
        u = np.maximum(beta_2 * u, np.abs(g))
        return p - LR32 * m / ((1 - beta_1 ** t) * (u + eps)), (m, u)
    check(gk.optimizers.Adamax(LR, beta_1=beta_1, beta_2=beta_2, **extra), update,
          zeros_pair, extra)


@pytest.mark.parametrize("extra", EXTRAS, ids=EXTRA_IDS)
def test_nadam(extra):
    beta_1, beta_2, eps = 0.9, 0.99, 1e-7

    def mu(t):  # Dozat's momentum schedule
        return beta_1 * (1 - 0.5 * 0.96 ** t)

    def update(p, g, state, t):
        m, v = adam_moments(*state, g, beta_1, beta_2)
        u_product = np.prod([mu(i) for i in range(1, t + 1)])
        m_hat = (mu(t + 1) * m / (1 - u_product * mu(t + 1))
                 + (1 - mu(t)) * g / (1 - u_product))
        v_hat = v / (1 - beta_2 ** t)
        return p - LR32 * m_hat / (np.sqrt(v_hat) + eps), (m, v)
    check(gk.optimizers.Nadam(LR, beta_1=beta_1, beta_2=beta_2, **extra), update,
          zeros_pair, extra)


@pytest.mark.parametrize("extra", EXTRAS, ids=EXTRA_IDS)
def test_adadelta(extra):
    rho, eps = 0.9, 1e-6

    def update(p, g, state, t):
        acc_g, acc_dx = state
        acc_g = rho * acc_g + (1 - rho) * g * g
        dx = -np.sqrt(acc_dx + eps) * g / np.sqrt(acc_g + eps)
        acc_dx = rho * acc_dx + (1 - rho) * dx * dx
        return p + LR32 * dx, (acc_g, acc_dx)
    check(gk.optimizers.Adadelta(LR, rho=rho, epsilon=eps, **extra), update, zeros_pair,
          extra)


@pytest.mark.parametrize("extra", EXTRAS, ids=EXTRA_IDS)
def test_lion(extra):
    beta_1, beta_2 = 0.9, 0.99

    def update(p, g, m, t):
        p = p - LR32 * np.sign(beta_1 * m + (1 - beta_1) * g)
        return p, beta_2 * m + (1 - beta_2) * g
    check(gk.optimizers.Lion(LR, beta_1=beta_1, beta_2=beta_2, **extra), update,
          np.zeros_like, extra)


FTRL_SETTINGS = [
    {},
    {"learning_rate_power": -0.3, "l1_regularization_strength": 0.05,
     "l2_regularization_strength": 0.1, "l2_shrinkage_regularization_strength": 0.2,
     "beta": 0.5, "initial_accumulator_value": 0.3},
]


@pytest.mark.parametrize("settings", FTRL_SETTINGS, ids=["defaults", "regularized"])
@pytest.mark.parametrize("extra", EXTRAS, ids=EXTRA_IDS)
def test_ftrl(settings, extra):
    opt = gk.optimizers.Ftrl(LR, **settings, **extra)
    power, l1 = -opt.learning_rate_power, opt.l1_regularization_strength
    l2 = opt.l2_regularization_strength + opt.beta / (2 * LR32)
    shrinkage = opt.l2_shrinkage_regularization_strength

    def update(p, g, state, t):  # McMahan et al. 2013, Algorithm 1, generalised power
        n, z = state
        n_new = n + g * g
        z = z + g + 2 * shrinkage * p - (n_new ** power - n ** power) / LR32 * p
        quadratic = n_new ** power / LR32 + 2 * l2
        p = np.where(np.abs(z) > l1, (np.sign(z) * l1 - z) / quadratic, 0.0)
        return p, (n_new, z)

    def init(p):
        return np.full_like(p, opt.initial_accumulator_value), np.zeros_like(p)
    check(opt, update, init, extra)


@pytest.mark.parametrize("extra", EXTRAS, ids=EXTRA_IDS)
def test_lamb(extra):
    beta_1, beta_2, eps = 0.9, 0.99, 1e-7

    def update(p, g, state, t):
        m, v = adam_moments(*state, g, beta_1, beta_2)
        r = (m / (1 - beta_1 ** t)) / (np.sqrt(v / (1 - beta_2 ** t)) + eps)
        ratio = np.linalg.norm(p) / np.linalg.norm(r)
        return p - ratio * LR32 * r, (m, v)
    check(gk.optimizers.Lamb(LR, beta_1=beta_1, beta_2=beta_2, **extra), update,
          zeros_pair, extra)


def test_lamb_trust_ratio_is_one_for_a_zero_variable():
    w = gk.Variable(np.zeros(3), name="w")
    opt = gk.optimizers.Lamb(LR)
    opt.apply_gradients([(gk.ops.convert_to_tensor(np.array([1.0, -2.0, 3.0])), w)])
    # First step: m_hat = g and v_hat = g**2, so the update is sign(g) (up to epsilon).
    np.testing.assert_allclose(w.numpy(), -LR32 * np.array([1.0, -1.0, 1.0]), rtol=1e-6)


# -- state, names and arguments -----------------------------------------------------------------

SLOTS = {
    "Adamax": ["momentum", "norm"], "Nadam": ["momentum", "velocity"],
    "Adadelta": ["accumulated_grad", "accumulated_delta_var"], "Lion": ["momentum"],
    "Ftrl": ["accumulator", "linear"], "Lamb": ["momentum", "velocity"],
}


@pytest.mark.parametrize("name", sorted(SLOTS))
def test_variables_have_keras_names_and_order(name):
    kernel = gk.Variable(np.ones((2, 3), "float32"), name="kernel")
    bias = gk.Variable(np.zeros(3, "float32"), name="bias")
    opt = getattr(gk.optimizers, name)()
    opt.build([kernel, bias])
    scope = name.lower()
    want = [f"{scope}/iteration", f"{scope}/learning_rate"] + [
        f"{scope}/{var}_{slot}" for var in ("kernel", "bias") for slot in SLOTS[name]]
    paths = [v.path for v in opt.variables]
    if name == "Nadam":  # Keras's u_product: a bare float variable after the slots
        assert opt.variables[-1].shape == () and opt.variables[-1].dtype == "float32"
        paths = paths[:-1]
    assert paths == want


@pytest.mark.parametrize("name", sorted(SLOTS))
def test_config_round_trip_and_string_identifier(name):
    cls = getattr(gk.optimizers, name)
    opt = cls(learning_rate=0.05, clipnorm=1.5, name="mine")
    config = opt.get_config()
    clone = cls.from_config(config)
    assert clone.get_config() == config
    assert type(gk.optimizers.get(name.lower())) is cls
    assert type(gk.optimizers.get(name)) is cls
    restored = gk.optimizers.deserialize(gk.optimizers.serialize(opt))
    assert type(restored) is cls and restored.get_config() == config


def test_configs_carry_each_optimizers_own_arguments():
    assert gk.optimizers.Ftrl(l1_regularization_strength=0.1, beta=0.2).get_config()[
        "l1_regularization_strength"] == 0.1
    assert gk.optimizers.Adadelta().get_config()["rho"] == 0.95
    assert gk.optimizers.Lion().get_config()["beta_2"] == 0.99
    assert gk.optimizers.Nadam().get_config()["epsilon"] == 1e-7


@pytest.mark.parametrize("make", [
    lambda: gk.optimizers.Lion(beta_1=0.0),
    lambda: gk.optimizers.Ftrl(learning_rate_power=0.5),
    lambda: gk.optimizers.Ftrl(initial_accumulator_value=-1.0),
    lambda: gk.optimizers.Ftrl(l2_shrinkage_regularization_strength=-0.1),
])
def test_invalid_arguments_are_rejected(make):
    with pytest.raises(ValueError):
        make()


# -- training a model: compiled against eager, saved and loaded ---------------------------------

def tiny_model(optimizer, **compile_kwargs):
    gk.utils.set_random_seed(3)
    model = gk.Sequential([gk.Input((4,)), layers.Dense(5, activation="tanh"), layers.Dense(2)])
    model.compile(optimizer=optimizer, loss="mse", **compile_kwargs)
    return model


def tiny_data():
    rng = np.random.default_rng(5)
    return rng.normal(size=(32, 4)).astype("float32"), rng.normal(size=(32, 2)).astype("float32")


@pytest.mark.parametrize("name", sorted(SLOTS))
def test_compiled_training_matches_eager(name):
    x, y = tiny_data()
    trained = []
    for compile_kwargs in ({"run_eagerly": True}, {"jit_compile": True}):
        model = tiny_model(name.lower(), **compile_kwargs)
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        trained.append(model)
    eager, compiled = trained
    for a, b in zip(eager.get_weights(), compiled.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    for a, b in zip(eager.optimizer.variables, compiled.optimizer.variables):
        # Ftrl's `linear` slot sums terms of size |w| * sqrt(n) / lr that mostly cancel:
        # its rounding error scales with its largest entry.
        scale = max(1.0, float(np.max(np.abs(b.numpy()))))
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-6 * scale)
    assert int(compiled.optimizer.iterations.numpy()) == 8


@pytest.mark.parametrize("name", sorted(SLOTS))
def test_saved_compiled_model_resumes_with_its_optimizer_state(tmp_path, name):
    x, y = tiny_data()
    straight = tiny_model(name.lower(), jit_compile=True)
    straight.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)

    first = tiny_model(name.lower(), jit_compile=True)
    first.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    first.save(tmp_path / "half.keras")
    resumed = saving.load_model(tmp_path / "half.keras")
    assert type(resumed.optimizer) is type(first.optimizer)
    for a, b in zip(first.optimizer.variables, resumed.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    resumed.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


# -- LossScaleOptimizer -------------------------------------------------------------------------

def scaled(values, scale):
    return gk.ops.convert_to_tensor(np.asarray(values, "float32") * np.float32(scale))


def test_loss_scale_optimizer_skips_non_finite_steps_and_adapts_the_scale():
    w = gk.Variable(np.ones(3, "float32"), name="w")
    opt = gk.optimizers.LossScaleOptimizer(gk.optimizers.SGD(0.5, momentum=0.9),
                                           initial_scale=1024.0, dynamic_growth_steps=2)
    want_w, momentum, scale, counter = np.ones(3), np.zeros(3), 1024.0, 0
    steps = [[1.0, 2.0, 3.0], [np.nan, 1.0, 1.0], [0.5, 0.5, 0.5], [1.0, -1.0, 0.0],
             [np.inf, 0.0, 0.0], [2.0, 2.0, 2.0]]
    for grad in steps:
        opt.apply([scaled(grad, scale)], [w])
        if np.all(np.isfinite(grad)):  # Keras's rule, in NumPy
            momentum = 0.9 * momentum - LR32 * 0 - float(np.float32(0.5)) * np.asarray(grad)
            want_w = want_w + momentum
            counter, scale = (0, scale * 2) if counter == 1 else (counter + 1, scale)
        else:
            counter, scale = 0, scale / 2
        np.testing.assert_allclose(w.numpy(), want_w, rtol=1e-6)
        assert float(opt.dynamic_scale.numpy()) == scale
        assert int(opt.step_counter.numpy()) == counter
    assert int(opt.iterations.numpy()) == 4  # the inner optimizer's: skipped steps do not count


def test_loss_scale_optimizer_scales_the_loss_and_proxies_the_inner_optimizer():
    inner = gk.optimizers.Adam(0.01, loss_scale_factor=8.0)
    opt = gk.optimizers.LossScaleOptimizer(inner)
    assert inner.loss_scale_factor is None  # the loss is scaled once, by the wrapper
    assert float(gk.ops.convert_to_numpy(opt.scale_loss(2.0))) == 2.0 ** 16
    opt.learning_rate = 0.5
    assert float(inner.learning_rate.numpy()) == 0.5
    kernel = gk.Variable(np.ones((2, 2), "float32"), name="kernel")
    opt.build([kernel])
    assert [v.path for v in opt.variables] == [
        "loss_scale_optimizer/iteration", "loss_scale_optimizer/learning_rate",
        "loss_scale_optimizer/step_counter", "loss_scale_optimizer/dynamic_scale",
        "adam/iteration", "adam/learning_rate", "adam/kernel_momentum", "adam/kernel_velocity"]


def test_loss_scale_optimizer_config_round_trip():
    opt = gk.optimizers.LossScaleOptimizer(gk.optimizers.Lion(0.02), initial_scale=64.0,
                                           dynamic_growth_steps=10)
    config = opt.get_config()
    assert sorted(config) == ["dynamic_growth_steps", "initial_scale", "inner_optimizer",
                              "name"]
    clone = gk.optimizers.deserialize(gk.optimizers.serialize(opt))
    assert type(clone.inner_optimizer) is gk.optimizers.Lion
    assert clone.get_config() == config
    with pytest.raises(ValueError, match="does not support `clipnorm`"):
        gk.optimizers.LossScaleOptimizer(gk.optimizers.SGD(), clipnorm=1.0)
    with pytest.raises(ValueError, match="dynamic=False"):
        gk.optimizers.LossScaleOptimizer(gk.optimizers.SGD(), dynamic=False)


def lso_fit(initial_scale, **compile_kwargs):
    """A float32 model, so that eager and compiled runs round alike; a huge initial scale
    overflows the first gradients to Inf, so the first steps are skipped (and halve it)."""
    optimizer = gk.optimizers.LossScaleOptimizer(gk.optimizers.Adam(0.01),
                                                 initial_scale=initial_scale,
                                                 dynamic_growth_steps=1000)
    model = tiny_model(optimizer, **compile_kwargs)
    x, y = tiny_data()
    model.fit(x, 30 * y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    return model


# Eagerly, NumPy warns about the overflowing forward and backward passes of skipped steps.
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("initial_scale", [2.0 ** 15, 2.0 ** 127], ids=["finite", "overflow"])
def test_loss_scale_optimizer_compiled_training_matches_eager(initial_scale):
    eager = lso_fit(initial_scale, run_eagerly=True)
    compiled = lso_fit(initial_scale, jit_compile=True)
    for a, b in zip(eager.get_weights(), compiled.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    for a, b in zip(eager.optimizer.variables, compiled.optimizer.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-6)
    skipped = 12 - int(compiled.optimizer.iterations.numpy())
    final_scale = float(compiled.optimizer.dynamic_scale.numpy())
    assert final_scale == initial_scale / 2 ** skipped
    assert (skipped > 0) == (initial_scale == 2.0 ** 127)


def test_loss_scale_optimizer_state_is_saved_with_a_compiled_model(tmp_path):
    model = lso_fit(2.0 ** 127, jit_compile=True)
    model.save(tmp_path / "lso.keras")
    loaded = saving.load_model(tmp_path / "lso.keras")
    assert type(loaded.optimizer) is gk.optimizers.LossScaleOptimizer
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_mixed_float16_models_get_a_loss_scale_optimizer():
    from graphkit.layers import dtype_policy
    dtype_policy.set_dtype_policy("mixed_float16")
    try:
        model = gk.Sequential([gk.Input((4,)), layers.Dense(5), layers.Dense(2, dtype="float32")])
    finally:
        dtype_policy.set_dtype_policy(None)
    model.compile(optimizer="adam", loss="mse", run_eagerly=True)
    assert isinstance(model.optimizer, gk.optimizers.LossScaleOptimizer)
    x, y = tiny_data()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 4
    unscaled = gk.Sequential([gk.Input((4,)), layers.Dense(2)])
    unscaled.compile(optimizer="adam", loss="mse", auto_scale_loss=True)
    assert type(unscaled.optimizer) is gk.optimizers.Adam
