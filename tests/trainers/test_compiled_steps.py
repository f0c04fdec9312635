"""The same train/test/predict steps, compiled with gk.jit, against the eager run."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers

USES_REAL_COMPILER = True


def train(jit_compile):
    (x, y), (xt, yt) = gk.datasets.digits.load_data()
    x = x.reshape(-1, 64)[:320].astype("float32") / 16.0
    y = y[:320]
    xt = xt.reshape(-1, 64)[:64].astype("float32") / 16.0
    gk.utils.set_random_seed(0)
    model = gk.Sequential([gk.Input((64,)), layers.Dense(32, activation="relu"),
                           layers.Dense(10)])
    model.compile(optimizer=gk.optimizers.Adam(0.01),
                  loss=gk.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], jit_compile=jit_compile,
                  run_eagerly=jit_compile is False)
    history = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    logs = model.evaluate(xt, yt[:64], return_dict=True, verbose=0)
    return model, history.history, logs, model.predict(xt, verbose=0)


def test_compiled_training_matches_eager_training():
    eager_model, eager_hist, eager_logs, eager_pred = train(False)
    jit_model, jit_hist, jit_logs, jit_pred = train(True)
    for key in eager_hist:
        np.testing.assert_allclose(jit_hist[key], eager_hist[key], rtol=1e-4, atol=1e-5)
    for key in eager_logs:
        assert jit_logs[key] == pytest.approx(eager_logs[key], rel=1e-4, abs=1e-5)
    np.testing.assert_allclose(jit_pred, eager_pred, rtol=1e-4, atol=1e-4)
    for a, b in zip(jit_model.variables, eager_model.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)
    for a, b in zip(jit_model.optimizer.variables, eager_model.optimizer.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)
