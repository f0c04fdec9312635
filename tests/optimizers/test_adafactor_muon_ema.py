"""Adafactor, Muon and the weights' moving average (use_ema=True): several steps against
Keras's formulas in float64 NumPy, configs, and compiled training against eager."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers

from tests.optimizers.test_optimizers import W0, assert_same, f32, reference, run

STEPS = 3


def rms(x):
    return np.sqrt(np.mean(x ** 2))


# -- Adafactor ----------------------------------------------------------------------------------

def adafactor_update(lr, beta_2_decay=-0.8, eps1=1e-30, eps2=1e-3, clip=1.0, wd=0.0):
    def update(p, g, state, t):
        p = p - p * wd * f32(lr)
        r, c, v = state
        alpha = max(eps2, rms(p)) * min(f32(lr), 1 / np.sqrt(t))
        g2 = g ** 2 + eps1
        beta = 1 - t ** beta_2_decay
        if p.ndim >= 2:
            r = beta * r + (1 - beta) * g2.mean(axis=-1)
            c = beta * c + (1 - beta) * g2.mean(axis=-2)
            v = (r / r.mean(axis=-1, keepdims=True))[..., None] * c[..., None, :]
        else:
            v = beta * v + (1 - beta) * g2
        u = g / np.sqrt(v)
        u = u / max(1.0, rms(u) / clip)
        return p - alpha * u, (r, c, v)
    return update


def adafactor_init(p):
    return np.zeros(p.shape[:-1]), np.zeros(p.shape[:-2] + p.shape[-1:]), np.zeros_like(p)


@pytest.mark.parametrize("kwargs, ref", [
    ({}, {}),
    # lr above 1/sqrt(t) from step 2 on: the relative step bound takes over
    ({"learning_rate": 0.8, "clip_threshold": 0.3, "beta_2_decay": -0.5,
      "epsilon_2": 0.5, "weight_decay": 0.05},
     {"clip": 0.3, "beta_2_decay": -0.5, "eps2": 0.5, "wd": 0.05}),
])
def test_adafactor(kwargs, ref):
    lr = kwargs.get("learning_rate", 0.001)
    want = reference(adafactor_update(lr, **ref), adafactor_init, steps=STEPS)
    assert_same(run(gk.optimizers.Adafactor(**kwargs), steps=STEPS), want, rtol=1e-10)


def test_adafactor_factors_the_last_two_axes_of_a_rank_3_variable():
    rng = np.random.default_rng(1)
    w0, grads = rng.normal(size=(2, 3, 4)), rng.normal(size=(STEPS, 2, 3, 4))
    opt = gk.optimizers.Adafactor(learning_rate=0.5)
    w = gk.Variable(w0, name="w")
    update, state, p = adafactor_update(0.5), adafactor_init(w0), w0
    for t, g in enumerate(grads, start=1):
        opt.apply_gradients([(gk.ops.convert_to_tensor(g), w)])
        p, state = update(p, g, state, t)
    np.testing.assert_allclose(w.numpy(), p, rtol=1e-10)
    r, c = opt._r[0], opt._c[0]
    assert r.shape == (2, 3) and c.shape == (2, 4)


def test_adafactor_slots_are_keras_s():
    kernel = gk.Variable(np.ones((2, 3), "float32"), name="kernel")
    bias = gk.Variable(np.zeros(3, "float32"), name="bias")
    opt = gk.optimizers.Adafactor()
    opt.build([kernel, bias])
    got = [(v.path, tuple(v.shape), str(v.dtype)) for v in opt.variables[2:]]
    assert got == [("adafactor/kernel", (2,), "float32"), ("adafactor/kernel", (3,), "float32"),
                   ("adafactor/kernel_velocity", (2, 3), "float32"),
                   ("adafactor/bias", (), "int32"), ("adafactor/bias", (), "int32"),
                   ("adafactor/bias_velocity", (3,), "float32")]


# -- Muon ---------------------------------------------------------------------------------------

def newton_schulz(x, steps, a=3.4445, b=-4.7750, c=2.0315):
    tall = x.shape[0] > x.shape[1]
    x = x.T if tall else x
    x = x / (np.linalg.norm(x) + 1e-7)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if tall else x


def muon_update(lr, momentum=0.95, nesterov=True, ns_steps=5, rms_rate=0.2, wd=0.004,
                adam_wd=0.004, adam_lr_ratio=1.0, b1=0.9, b2=0.999, eps=1e-7):
    def update(p, g, state, t):
        m, v = state
        lr32 = f32(lr)
        if p.ndim == 2:  # the Muon step
            p = p - p * wd * lr32
            m = momentum * m + g
            d = g + momentum * m if nesterov else m
            step = lr32 * newton_schulz(d, ns_steps)
            if rms_rate is not None:
                step = step * np.sqrt(max(p.shape)) * rms_rate
            return p - step, (m, v)
        p = p - p * adam_wd * lr32  # the AdamW fallback
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        alpha = lr32 * adam_lr_ratio * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        return p - m * alpha / (np.sqrt(v) + eps), (m, v)
    return update


def zeros_pair(p):
    return np.zeros_like(p), np.zeros_like(p)


@pytest.mark.parametrize("kwargs, ref", [
    ({"learning_rate": 0.02}, {}),
    ({"learning_rate": 0.05, "nesterov": False, "rms_rate": None, "ns_steps": 3,
      "momentum": 0.8, "weight_decay": 0.1, "adam_weight_decay": 0.2, "adam_lr_ratio": 0.5},
     {"nesterov": False, "rms_rate": None, "ns_steps": 3, "momentum": 0.8, "wd": 0.1,
      # 0.5: lr * ratio is exact in float32 as in float64
      "adam_wd": 0.2, "adam_lr_ratio": 0.5}),
])
def test_muon(kwargs, ref):
    want = reference(muon_update(kwargs["learning_rate"], **ref), zeros_pair, steps=STEPS)
    assert_same(run(gk.optimizers.Muon(**kwargs), steps=STEPS), want, rtol=1e-10)


def test_muon_transposes_a_tall_matrix_and_orthogonalizes():
    x = np.random.default_rng(2).normal(size=(6, 3))
    opt = gk.optimizers.Muon()
    got = opt.zeropower_via_newtonschulz5(gk.ops.convert_to_tensor(x), 5).numpy()
    np.testing.assert_allclose(got, newton_schulz(x, 5), rtol=1e-10, atol=1e-12)
    # Approximately orthogonal columns: singular values near 1 (within NS5's ~0.3 band).
    singular = np.linalg.svd(got, compute_uv=False)
    assert np.all((singular > 0.6) & (singular < 1.3))


def test_muon_chooses_adamw_by_rank_embedding_and_excluded_layers():
    def var(name, shape):
        return gk.Variable(np.ones(shape, "float32"), name=name)
    hidden, out, emb, bias, cube = (var("hidden", (3, 4)), var("out_dense", (4, 2)),
                                    var("token_Embedding", (5, 3)), var("bias", (4,)),
                                    var("cube", (2, 2, 2)))
    opt = gk.optimizers.Muon(exclude_layers=["out_"])
    opt.build([hidden, out, emb, bias, cube])
    assert [v is None for v in opt.adam_velocities] == [True, False, False, False, False]
    assert [v.path for v in opt.variables[2:5]] == [
        "muon/hidden_momentum", "muon/out_dense_momentum", "muon/out_dense_velocity"]
    kept = gk.optimizers.Muon(exclude_embeddings=False)
    kept.build([emb])
    assert kept.adam_velocities == [None]


# -- moving average of the weights --------------------------------------------------------------

@pytest.mark.parametrize("overwrite", [None, 2])
def test_ema_follows_keras_average_and_overwrite(overwrite):
    lr, mu, ema = 0.1, 0.9, 0.7
    opt = gk.optimizers.SGD(lr, momentum=mu, use_ema=True, ema_momentum=ema,
                            ema_overwrite_frequency=overwrite)
    got = run(opt, steps=STEPS)
    p, m, avg = W0.copy(), np.zeros_like(W0), np.zeros_like(W0)
    from tests.optimizers.test_optimizers import GRADS
    for t, (g, _) in enumerate(GRADS[:STEPS], start=1):
        m = mu * m - f32(lr) * g
        p = p + m
        avg = p if t == 1 else ema * avg + (1 - ema) * p
        if overwrite and t % overwrite == 0:
            p = avg.copy()
        np.testing.assert_allclose(got[t - 1][0], p, rtol=1e-12)
    np.testing.assert_allclose(opt._model_variables_moving_average[0].numpy(), avg,
                               rtol=1e-12)
    assert [v.path for v in opt.variables[2:4]] == ["SGD/w_average", "SGD/b_average"]


def test_fit_ends_on_the_averaged_weights():
    x, y = tiny_data()
    model = tiny_model(gk.optimizers.SGD(0.1, use_ema=True), run_eagerly=True)
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    averages = model.optimizer._model_variables_moving_average
    for variable, average in zip(model.trainable_variables, averages):
        np.testing.assert_array_equal(variable.numpy(), average.numpy())
    assert not np.allclose(model.get_weights()[0], tiny_model("sgd").get_weights()[0])


# -- configs and compiled training --------------------------------------------------------------

@pytest.mark.parametrize("cls, kwargs", [
    (gk.optimizers.Adafactor, {"beta_2_decay": -0.6, "epsilon_2": 0.01, "clip_threshold": 2.0,
                               "relative_step": False}),
    (gk.optimizers.Muon, {"exclude_layers": ["head"], "ns_steps": 4, "rms_rate": None,
                          "nesterov": False, "adam_lr_ratio": 0.5, "exclude_embeddings": False}),
    (gk.optimizers.SGD, {"use_ema": True, "ema_momentum": 0.9, "ema_overwrite_frequency": 5}),
])
def test_config_round_trip_and_string_identifier(cls, kwargs):
    opt = cls(learning_rate=0.05, name="mine", **kwargs)
    config = opt.get_config()
    for key, value in kwargs.items():
        assert config[key] == value
    assert cls.from_config(config).get_config() == config
    restored = gk.optimizers.deserialize(gk.optimizers.serialize(opt))
    assert type(restored) is cls and restored.get_config() == config
    assert type(gk.optimizers.get(cls.__name__.lower())) is cls


def tiny_model(optimizer, **compile_kwargs):
    gk.utils.set_random_seed(3)
    model = gk.Sequential([gk.Input((4,)), layers.Dense(5, activation="tanh", name="hidden"),
                           layers.Dense(2, name="head")])
    model.compile(optimizer=optimizer, loss="mse", **compile_kwargs)
    return model


def tiny_data():
    rng = np.random.default_rng(5)
    return rng.normal(size=(32, 4)).astype("float32"), rng.normal(size=(32, 2)).astype("float32")


@pytest.mark.parametrize("make", [
    lambda: gk.optimizers.Adafactor(learning_rate=0.1),
    lambda: gk.optimizers.Muon(learning_rate=0.05, exclude_layers=["head"]),
    lambda: gk.optimizers.Adam(0.05, use_ema=True, ema_momentum=0.8,
                               ema_overwrite_frequency=3),
], ids=["adafactor", "muon", "adam_ema"])
def test_compiled_fit_matches_eager(make):
    x, y = tiny_data()
    runs = []
    for compile_kwargs in ({"run_eagerly": True}, {"jit_compile": True}):
        model = tiny_model(make(), **compile_kwargs)
        history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
        runs.append((model, history.history["loss"]))
    (eager, eager_loss), (compiled, compiled_loss) = runs
    assert compiled.train_function.is_compiled
    if isinstance(eager.optimizer, gk.optimizers.Muon):  # both paths are exercised
        assert [v is None for v in eager.optimizer.adam_velocities] == [True, False, False,
                                                                         False]
    np.testing.assert_allclose(compiled_loss, eager_loss, rtol=1e-5, atol=1e-5)
    assert eager_loss[-1] < eager_loss[0]
    for a, b in zip(eager.optimizer.variables, compiled.optimizer.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
