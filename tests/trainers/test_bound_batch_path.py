"""train_on_batch / test_on_batch hand the caller's arrays straight to the compiled step
bound to the last batch when it takes them as they are; anything else (another dtype, a
sample weight, another structure) goes through the standardizing path, with the same
results."""
import numpy as np

import graphkit as gk

USES_REAL_COMPILER = True


def _model(seed=3):
    gk.utils.set_random_seed(seed)
    inputs = gk.Input(shape=(6,))
    outputs = gk.layers.Dense(3)(gk.layers.Dense(8, activation="relu")(inputs))
    model = gk.Model(inputs, outputs)
    model.compile(optimizer=gk.optimizers.Adam(0.01), loss="mse", metrics=["mae"],
                  jit_compile=True)
    return model


def test_arrays_the_bound_step_takes_skip_standardizing_and_match_the_general_path():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 6)).astype(np.float32)
    y = rng.standard_normal((16, 3)).astype(np.float32)
    fast, general = _model(), _model()
    fast.train_on_batch(x, y)
    general.train_on_batch(x, y)
    assert fast._run_bound("test", x, y, None) is None          # no test step bound yet
    for _ in range(3):
        assert fast._run_bound("train", x, y, None) is not None  # this call trains once
        # float64 arrays are standardized to float32: the bound step refuses them
        logs = general.train_on_batch(x.astype(np.float64), y.astype(np.float64),
                                      return_dict=True)
        assert general._run_bound("train", x.astype(np.float64), y, None) is None
    for a, b in zip(fast.get_weights(), general.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert set(logs) == {"loss", "mae"}


def test_a_sample_weight_takes_the_general_path():
    """A batch with a sample weight does not fit the step bound to (x, y): the bound step
    refuses it before running anything, and the general path weighs the loss."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 6)).astype(np.float32)
    y = rng.standard_normal((16, 3)).astype(np.float32)
    weights = np.zeros(16, np.float32)
    weights[:4] = 4.0
    model, twin = _model(), _model()
    first = model.test_on_batch(x, y, return_dict=True)   # binds the test step to (x, y)
    twin.test_on_batch(x, y)
    assert model._run_bound("test", x, y, weights) is None
    got = model.test_on_batch(x, y, sample_weight=weights, return_dict=True)
    want = twin.test_on_batch(x, y, sample_weight=weights, return_dict=True)
    np.testing.assert_allclose(got["loss"], want["loss"], rtol=1e-6)
    assert abs(got["loss"] - first["loss"]) > 1e-3   # the weights changed the loss
