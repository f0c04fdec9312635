"""SwapEMAWeights: evaluation on the optimizer's moving averages, then back to the weights."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import callbacks, layers


def model_and_data(use_ema=True, **compile_kwargs):
    gk.utils.set_random_seed(4)
    model = gk.Sequential([gk.Input((3,)), layers.Dense(4, activation="tanh"), layers.Dense(1)])
    model.compile(optimizer=gk.optimizers.SGD(0.1, use_ema=use_ema, ema_momentum=0.5),
                  loss="mse", **compile_kwargs)
    rng = np.random.default_rng(0)
    return model, rng.normal(size=(16, 3)).astype("float32"), rng.normal(
        size=(16, 1)).astype("float32")


def snapshot(model):
    if not model.optimizer.built:  # on_epoch_begin(0): no averages yet
        return None
    weights = [v.numpy().copy() for v in model.trainable_variables]
    averages = [v.numpy().copy() for v in model.optimizer._model_variables_moving_average]
    return weights, averages


class Recorder(callbacks.Callback):
    def __init__(self, hooks):
        super().__init__()
        self.seen = {}
        for hook in hooks:
            setattr(self, hook, self._recording(hook))

    def _recording(self, hook):
        def record(*args, **kwargs):
            self.seen.setdefault(hook, []).append(snapshot(self.model))
        return record


def assert_all_equal(xs, ys):
    assert len(xs) == len(ys)
    for x, y in zip(xs, ys):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("jit", [False, True])
def test_evaluate_and_predict_use_the_averages_then_restore(jit):
    model, x, y = model_and_data(**({"jit_compile": True} if jit else {"run_eagerly": True}))
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    # fit ends on the averages (finalize_variable_values); train on to separate them again.
    model.train_on_batch(x, y)
    model.train_on_batch(x, y)
    weights, averages = snapshot(model)
    assert not np.allclose(weights[0], averages[0])
    inside = Recorder(["on_test_begin", "on_predict_begin"])
    loss = model.evaluate(x, y, verbose=0, callbacks=[callbacks.SwapEMAWeights(), inside])
    in_weights, in_averages = inside.seen["on_test_begin"][0]
    assert_all_equal(in_weights, averages)
    assert_all_equal(in_averages, weights)
    assert_all_equal(snapshot(model)[0], weights)
    assert_all_equal(snapshot(model)[1], averages)
    model.predict(x, verbose=0, callbacks=[callbacks.SwapEMAWeights(), inside])
    assert_all_equal(inside.seen["on_predict_begin"][0][0], averages)
    assert_all_equal(snapshot(model)[0], weights)
    # The loss reported is the averaged model's.
    model.set_weights([v.numpy() for v in model.optimizer._model_variables_moving_average])
    np.testing.assert_allclose(loss, model.evaluate(x, y, verbose=0), rtol=1e-6)


def test_swap_on_epoch_holds_the_averages_between_epochs():
    model, x, y = model_and_data(run_eagerly=True)
    before = Recorder(["on_epoch_end"])
    after = Recorder(["on_epoch_begin", "on_epoch_end"])
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0, validation_data=(x, y),
              callbacks=[before, callbacks.SwapEMAWeights(swap_on_epoch=True), after])
    for epoch in range(2):
        raw, avg = before.seen["on_epoch_end"][epoch]
        assert not np.allclose(raw[0], avg[0])
        assert_all_equal(after.seen["on_epoch_end"][epoch][0], avg)
    # The next epoch trains on from the raw weights, swapped back at its start.
    assert_all_equal(after.seen["on_epoch_begin"][1][0], before.seen["on_epoch_end"][0][0])
    # After the last epoch the slots hold the averages again and fit ends on them.
    final_avg = before.seen["on_epoch_end"][1][1]
    assert_all_equal(snapshot(model)[0], final_avg)
    assert_all_equal(snapshot(model)[1], final_avg)


def test_requires_an_optimizer_with_use_ema():
    model, x, y = model_and_data(use_ema=False, run_eagerly=True)
    model.fit(x, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="use_ema=True"):
        model.evaluate(x, y, verbose=0, callbacks=[callbacks.SwapEMAWeights()])
