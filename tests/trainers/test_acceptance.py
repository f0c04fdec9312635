"""Acceptance checks of fit/evaluate/predict through the real compiler (gk.jit)."""
import logging
import math
import os
import sys

import numpy as np
import pytest

import graphkit as gk
from graphkit import callbacks, layers

USES_REAL_COMPILER = True


def digits(n_train=None):
    (x, y), (xt, yt) = gk.datasets.digits.load_data()
    x = x.reshape(len(x), 64).astype("float32") / 16.0
    xt = xt.reshape(len(xt), 64).astype("float32") / 16.0
    return (x[:n_train], y[:n_train]), (xt, yt)


def digits_mlp(**compile_kwargs):
    gk.utils.set_random_seed(0)
    inputs = gk.Input((64,))
    hidden = layers.Dense(64, activation="relu")(inputs)
    hidden = layers.Dense(64, activation="relu")(hidden)
    model = gk.Model(inputs, layers.Dense(10)(hidden))
    model.compile(optimizer=gk.optimizers.Adam(1e-2),
                  loss=gk.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], **compile_kwargs)
    return model


def test_one_epoch_of_the_digits_mlp_is_the_same_compiled_and_eager():
    (x, y), _ = digits()
    results = {}
    for mode, kwargs in (("jit", {"jit_compile": True}), ("eager", {"run_eagerly": True})):
        model = digits_mlp(**kwargs)
        history = model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
        results[mode] = (model, history.history)
    jit_model, jit_history = results["jit"]
    eager_model, eager_history = results["eager"]
    assert jit_model.train_function.is_compiled
    assert not eager_model.train_function.is_compiled
    assert jit_history["loss"][0] == pytest.approx(eager_history["loss"][0], rel=1e-4)
    assert jit_history["accuracy"][0] == pytest.approx(eager_history["accuracy"][0],
                                                       abs=1e-4)
    for a, b in zip(jit_model.trainable_variables, eager_model.trainable_variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-4)


def test_terminate_on_nan_stops_a_compiled_fit_at_the_bad_batch():
    x = np.ones((16, 3), "float32")
    y = np.ones((16, 1), "float32")
    y[9] = np.nan  # the third batch of four
    gk.utils.set_random_seed(0)
    model = gk.Sequential([gk.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    seen = []
    counter = callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(b))
    history = model.fit(x, y, batch_size=4, epochs=5, shuffle=False, verbose=0,
                        callbacks=[counter, callbacks.TerminateOnNaN()])
    assert model.train_function.is_compiled
    assert seen == [0, 1, 2] and history.epoch == [0]
    assert math.isnan(history.history["loss"][0])


def test_train_function_exposes_the_lowered_step_and_its_stats():
    (x, y), _ = digits(64)
    model = digits_mlp(jit_compile=True)
    lowered = model.train_function.lower(x[:32], y[:32])
    stats = lowered.stats()
    assert stats["kernels"] >= 1 and stats["flops"] > 0 and stats["passes"]
    assert "matmul" in lowered.as_text("optimized")
    model.fit(x, y, batch_size=32, epochs=2, verbose=0)
    # one trace for lower(), one compile on the first step; the other three steps reuse it
    # (the step function calls the cached executable directly: no jit lookup, no retrace)
    info = model.train_function.jitted.cache_info()
    assert info["traces"] == 2 and info["misses"] == 1 and info["entries"] == 1
    predict_stats = model.predict_function.lower(x[:8]).stats()
    assert predict_stats["flops"] < stats["flops"]  # no backward pass, no optimizer
    assert model.make_train_function() is model.train_function
    assert model.make_train_function(force=True) is not lowered


def test_lowering_an_eager_step_is_a_clear_error():
    model = digits_mlp(run_eagerly=True)
    with pytest.raises(RuntimeError, match="runs its steps eagerly"):
        model.train_function.lower(np.ones((2, 64), "float32"), np.zeros((2,), "int64"))


class Subclassed(gk.Model):
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(3)

    def call(self, x):
        return self.dense(x)


@pytest.mark.parametrize("make", [
    lambda: Subclassed(),
    lambda: gk.Sequential([gk.Input((4,)), layers.Dense(3)]),
], ids=["subclassed", "sequential"])
def test_predict_before_compile_runs_compiled(make):
    gk.utils.set_random_seed(0)
    model = make()
    x = np.random.default_rng(0).normal(size=(10, 4)).astype("float32")
    out = model.predict(x, batch_size=4, verbose=0)
    assert model.optimizer is None and not model.compiled
    assert model.predict_function.is_compiled
    np.testing.assert_allclose(out, np.asarray(model(x)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(x), out, rtol=1e-5, atol=1e-6)


def test_two_models_are_not_reported_as_one_function_jitted_twice(caplog):
    (x, y), _ = digits(32)
    with caplog.at_level(logging.INFO, logger="graphkit.jit"):
        for _ in range(2):
            digits_mlp().fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert not [r for r in caplog.records if "applied again" in r.getMessage()]
