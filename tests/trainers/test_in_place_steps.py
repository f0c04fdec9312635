"""Compiled steps donate their state: weights and optimizer slots are updated in place,
through the step function's own buffers, and the results are the eager ones."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers

USES_REAL_COMPILER = True
RNG = np.random.default_rng(7)


def mlp(jit_compile, weights=None):
    gk.utils.set_random_seed(1)
    inputs = gk.Input((12,))
    hidden = layers.Dense(16, activation="relu")(inputs)
    model = gk.Model(inputs, layers.Dense(3)(hidden))
    if weights is not None:
        model.set_weights(weights)
    model.compile(optimizer=gk.optimizers.Adam(1e-2),
                  loss=gk.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], jit_compile=jit_compile,
                  run_eagerly=jit_compile is False)
    return model


def batch(n=8):
    return RNG.standard_normal((n, 12)).astype("float32"), RNG.integers(0, 3, n)


def test_weights_and_slots_keep_their_buffers_across_compiled_steps():
    model = mlp(True)
    x, y = batch()
    model.train_on_batch(x, y)
    state = model.trainable_variables + model.optimizer.variables
    buffers = [v.value.numpy() for v in state]
    before = [b.copy() for b in buffers]
    for _ in range(3):
        model.train_on_batch(x, y)
    kernel_and_slots = [k for k, v in enumerate(state) if v.shape == (12, 16)]
    assert len(kernel_and_slots) == 3           # the first kernel, its m and its v
    for k in kernel_and_slots:
        assert state[k].value.numpy() is buffers[k]   # the same array, written in place...
        assert not np.array_equal(buffers[k], before[k])  # ...with new values
    assert int(model.optimizer.iterations.numpy()) == 4


def test_in_place_compiled_steps_match_eager_steps():
    x, y = batch(16)
    models = {mode: mlp(mode) for mode in (True, False)}
    for _ in range(4):
        losses = {mode: m.train_on_batch(x, y, return_dict=True)["loss"]
                  for mode, m in models.items()}
        assert losses[True] == pytest.approx(losses[False], rel=1e-5, abs=1e-6)
    for a, b in zip(models[True].variables + models[True].optimizer.variables,
                    models[False].variables + models[False].optimizer.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_arrays_handed_to_set_weights_are_never_written():
    weights = mlp(False).get_weights()
    mine = [w.copy() for w in weights]
    model = mlp(True, weights)
    x, y = batch()
    for _ in range(3):
        model.train_on_batch(x, y)
    for w, m in zip(weights, mine):
        np.testing.assert_array_equal(w, m)
    assert not np.array_equal(model.get_weights()[0], mine[0])


def test_an_assign_between_compiled_steps_is_seen_by_the_next_step():
    x, y = batch()
    compiled, eager = mlp(True), mlp(False)
    for m in (compiled, eager):
        m.train_on_batch(x, y)
        first = m.trainable_variables[0]
        first.assign(np.full(first.shape, 0.05, "float32"))   # e.g. a callback's reset
        m.optimizer.variables[2].assign(np.zeros(first.shape, "float32"))
        m.train_on_batch(x, y)
    for a, b in zip(compiled.variables, eager.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_a_new_batch_shape_retraces_and_then_runs_bound_again():
    model = mlp(True)
    for n in (8, 5, 8, 5):
        model.train_on_batch(*batch(n))
    info = model.train_function.jitted.cache_info()
    assert info["misses"] == 2 and info["entries"] == 2
    assert int(model.optimizer.iterations.numpy()) == 4


def test_the_train_step_runs_natively_in_one_call():
    model = mlp(True)
    x, y = batch()
    model.train_on_batch(x, y)
    stats = model.train_function.jitted.entry_for(
        *_step_args(model, x, y)).executable.stats()
    assert stats["interpreted_kernels"] == [] and stats["native_calls_per_run"] == 1


def _step_args(model, x, y):
    from graphkit.trainers import data as data_module
    groups = model._state_variables("train")
    state = tuple([v.value for v in group] for group in groups)
    return state, model._pack_batch("train", data_module.standardize_batch((x, y, None)))


def test_numpy_snapshots_do_not_change_when_training_goes_on():
    import graphkit as gk
    inputs = gk.Input((4,))
    model = gk.Model(inputs, gk.layers.Dense(2)(inputs))
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(16, 4)).astype("float32"), rng.normal(size=(16, 2)).astype("float32")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    kernel = model.layers[-1].kernel
    snapshot, weights = kernel.numpy(), model.get_weights()
    kept = snapshot.copy()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    np.testing.assert_array_equal(snapshot, kept)
    np.testing.assert_array_equal(weights[0], kept)
    assert not np.array_equal(kernel.numpy(), kept)


def test_two_variables_given_one_array_are_updated_apart_eagerly():
    # After the first step the eager state is the step's own arrays; an assign that makes
    # two slots share one array must give each its own copy again (donated arrays are
    # written in place: a shared one would take both updates).
    x, y = batch()
    shared, separate = mlp(False), mlp(False)
    for m in (shared, separate):
        m.train_on_batch(x, y)
    value = np.full((12, 16), 0.01, "float32")
    one_tensor = gk.ops.convert_to_tensor(value)
    for m in (shared, separate):
        slots = [v for v in m.optimizer.variables if v.shape == (12, 16)]
        assert len(slots) == 2                      # the first kernel's m and v
        for slot in slots:
            slot.assign(one_tensor if m is shared else value.copy())
    for _ in range(2):
        assert shared.train_on_batch(x, y) == separate.train_on_batch(x, y)
    for a, b in zip(shared.variables + shared.optimizer.variables,
                    separate.variables + separate.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
