"""Shared by the loss and metric tests: a tiny training run to compare compiled and eager."""
import numpy as np

import graphkit as gk


def fit_logs(loss, metrics, jit_compile):
    """The history of two epochs of a tiny model on three binary targets."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 5)).astype("float32")
    y = (x[:, :3] @ rng.normal(size=(3, 3)) > 0).astype("float32")
    gk.utils.set_random_seed(0)
    model = gk.Sequential([gk.Input((5,)), gk.layers.Dense(8, activation="relu"),
                           gk.layers.Dense(3, activation="sigmoid")])
    model.compile(optimizer=gk.optimizers.Adam(0.01), loss=loss, metrics=metrics,
                  jit_compile=jit_compile, run_eagerly=not jit_compile)
    history = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0,
                        validation_data=(x[:16], y[:16]))
    return history.history
