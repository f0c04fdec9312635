"""Checks shared by the built-in layer tests: config round trips and finite differences."""
import json

import numpy as np

import graphkit as gk


def assert_config_roundtrip(layer, expected_keys=None):
    """`from_config(get_config())` rebuilds a layer with the same config, and the config is
    JSON-serializable (it is what `model.save` writes)."""
    config = layer.get_config()
    json.dumps(config)
    if expected_keys is not None:
        assert set(config) == set(expected_keys), sorted(set(config) ^ set(expected_keys))
    clone = type(layer).from_config(config)
    assert type(clone) is type(layer)
    assert clone.get_config() == config
    return clone


def numeric_grad(f, x, eps=1e-6):
    """Central differences of the scalar `f()` with respect to the float64 array `x`
    (modified in place and restored)."""
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        orig = x[i]
        x[i] = orig + eps
        up = f()
        x[i] = orig - eps
        down = f()
        x[i] = orig
        g[i] = (up - down) / (2 * eps)
    return g


def check_input_grad(layer, x, weights):
    """The tape's gradient of `sum(layer(x) * weights)` with respect to `x` equals central
    differences."""
    x_var = gk.Variable(x)
    with gk.GradientTape() as tape:
        loss = gk.ops.sum(gk.ops.multiply(layer(x_var), weights))
    grad = np.asarray(tape.gradient(loss, x_var))

    def f():
        return float(np.sum(np.asarray(layer(x)) * weights))
    np.testing.assert_allclose(grad, numeric_grad(f, x), atol=1e-6, rtol=1e-5)


def check_weight_grads(layer, x, loss_weights, atol=1e-6, **call_kwargs):
    """The tape's gradients of `sum(layer(x) * loss_weights)` with respect to every
    trainable weight equal central differences (float64 layer)."""
    with gk.GradientTape() as tape:
        y = layer(x, **call_kwargs)
        loss = gk.ops.sum(gk.ops.multiply(y, loss_weights))
    grads = tape.gradient(loss, layer.trainable_weights)
    assert len(grads) == len(layer.trainable_weights) > 0
    for w, g in zip(layer.trainable_weights, grads):
        value = np.array(w.numpy(), dtype="float64")

        def f():
            w.assign(value.copy())
            return float(np.sum(np.asarray(layer(x, **call_kwargs)) * loss_weights))

        expected = numeric_grad(f, value)
        w.assign(value.copy())
        np.testing.assert_allclose(np.asarray(g), expected, atol=atol, rtol=1e-5,
                                   err_msg=f"gradient of {w.path}")


def check_compiled_predict(model, inputs, rtol=1e-5, atol=1e-6):
    """Under `compile(jit_compile=True)` the model predicts what it computes eagerly, and
    `gk.debugging.compare` (eager vs compiled) finds no divergence."""
    gk.debugging.compare(model, inputs).assert_close(rtol=rtol, atol=atol)
    eager = model(inputs)
    model.compile(jit_compile=True)
    compiled = model.predict(inputs, verbose=0)
    assert model.predict_function.is_compiled
    for e, c in zip(gk.tree.flatten(eager), gk.tree.flatten(compiled)):
        np.testing.assert_allclose(np.asarray(c), np.asarray(e), rtol=rtol, atol=atol)
