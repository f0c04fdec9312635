"""train_on_batch / test_on_batch hand the caller's arrays straight to the compiled step
bound to the last batch when it takes them as they are; anything else (another dtype, a
sample weight, another structure) goes through the standardizing path, with the same
results."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers

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


@pytest.mark.parametrize("mode", [{"run_eagerly": True}, {"jit_compile": True}])
def test_on_batch_logs_are_those_of_the_batch(mode):
    model = gk.Sequential([gk.Input((1,)),
                           layers.Dense(1, kernel_initializer="ones", use_bias=False)])
    model.compile(gk.optimizers.SGD(0.0), "mse", metrics=["mae"], **mode)
    x = np.ones((4, 1), "float32")
    model.train_on_batch(x, np.zeros((4, 1), "float32"))            # mse 1
    logs = model.train_on_batch(x, np.full((4, 1), 3, "float32"), return_dict=True)  # mse 4
    assert logs == pytest.approx({"loss": 4.0, "mae": 2.0})
    model.test_on_batch(x, np.zeros((4, 1), "float32"))
    logs = model.test_on_batch(x, np.full((4, 1), 3, "float32"), return_dict=True)
    assert logs == pytest.approx({"loss": 4.0, "mae": 2.0})


@pytest.mark.parametrize("mode", [{"run_eagerly": True}, {"jit_compile": True}])
def test_freezing_a_layer_without_recompiling_never_trains_it_silently(mode):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 6)).astype("float32")
    y = rng.normal(size=(16, 3)).astype("float32")
    model = gk.Sequential([gk.Input((6,)), layers.Dense(4), layers.Dense(3)])
    model.compile(gk.optimizers.SGD(0.1), "mse", **mode)
    model.fit(x, y, verbose=0)
    model.layers[0].trainable = False
    before = model.layers[0].kernel.numpy()
    with pytest.raises(ValueError, match="optimizer was built with 4"):
        model.fit(x, y, verbose=0)
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(), before)


class _CountFromOne(gk.metrics.Metric):
    """A metric whose reset is not to zeros: the single-batch reset must call it."""

    def __init__(self, name="count_from_one", **kwargs):
        super().__init__(name=name, **kwargs)
        self.count = self.add_variable(shape=(), initializer="ones", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.count.assign_add(1.0)

    def result(self):
        return self.count

    def reset_state(self):
        self.count.assign(1.0)


@pytest.mark.parametrize("mode", [{"run_eagerly": True}, {"jit_compile": True}])
def test_on_batch_resets_zero_in_place_and_calls_custom_resets(mode):
    """The default reset zeroes the step's own metric arrays in place (the compiled step
    stays bound to them); a metric's own reset_state is called as it is."""
    model = _model()
    model.compile(optimizer="sgd", loss="mse", metrics=["mae", _CountFromOne()], **mode)
    x, y = np.ones((5, 6), "float32"), np.zeros((5, 3), "float32")
    first = model.train_on_batch(x, y, return_dict=True)
    for _ in range(3):
        logs = model.train_on_batch(x, y, return_dict=True)
        assert logs["count_from_one"] == 2.0
    assert logs["loss"] < first["loss"]
    tracker = model.metrics[0]
    assert float(tracker.variables[1].numpy()) == 5.0    # this batch's samples only
