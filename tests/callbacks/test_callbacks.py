"""Callbacks: unit behaviour on a stand-in model, and inside real `fit` calls."""
import csv
import math

import numpy as np
import pytest

import graphkit as gk
from graphkit import callbacks
from graphkit import layers


class FakeModel:
    """Just what the callbacks touch: weights, an optimizer, stop_training, metrics."""

    def __init__(self, lr=0.1):
        self.optimizer = gk.optimizers.SGD(lr)
        self.stop_training = False
        self.weights = [np.zeros(2)]
        self.metrics = [gk.metrics.Mean(name="loss"), gk.metrics.AUC(name="auc")]
        self.saved = []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [w.copy() for w in weights]

    def save(self, path):
        self.saved.append(path)

    def save_weights(self, path):
        self.saved.append(path)


def run_epochs(callback, values, key="val_loss", model=None):
    """Feed per-epoch logs {key: value} through the callback; returns the epochs run."""
    model = model or FakeModel()
    callback.set_model(model)
    callback.on_train_begin()
    ran = []
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch)
        model.weights = [np.full(2, float(epoch))]
        callback.on_epoch_end(epoch, {key: value})
        ran.append(epoch)
        if model.stop_training:
            break
    callback.on_train_end()
    return ran, model


def test_history_collects_logs_per_epoch():
    h = callbacks.History()
    run_epochs(h, [3.0, 2.0], key="loss")
    assert h.history == {"loss": [3.0, 2.0]} and h.epoch == [0, 1]


def test_early_stopping_patience_and_restore_best_weights():
    es = callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    ran, model = run_epochs(es, [1.0, 0.5, 0.6, 0.7, 0.4])
    assert ran == [0, 1, 2, 3] and es.stopped_epoch == 3
    assert es.best == 0.5 and es.best_epoch == 1
    np.testing.assert_array_equal(model.weights[0], [1.0, 1.0])  # epoch 1's weights


def test_early_stopping_min_delta_mode_max_and_baseline():
    es = callbacks.EarlyStopping(monitor="val_auc", patience=1, min_delta=0.05)
    ran, _ = run_epochs(es, [0.5, 0.52, 0.9], key="val_auc")  # direction from the AUC metric
    assert ran == [0, 1]
    es = callbacks.EarlyStopping(monitor="val_loss", patience=3, baseline=0.1)
    # Epochs that miss the baseline count toward patience (checked when one fails to improve).
    ran, _ = run_epochs(es, [1.0, 0.9, 0.95, 0.97, 0.99])
    assert ran == [0, 1, 2]
    es = callbacks.EarlyStopping(monitor="val_loss", patience=3)
    ran, _ = run_epochs(es, [1.0, 0.9, 0.95, 0.97, 0.99])
    assert ran == [0, 1, 2, 3, 4]
    es = callbacks.EarlyStopping(monitor="val_loss", patience=0, start_from_epoch=2)
    ran, _ = run_epochs(es, [1.0, 2.0, 3.0, 4.0])
    assert ran == [0, 1, 2, 3]


def test_early_stopping_unknown_direction_asks_for_mode():
    es = callbacks.EarlyStopping(monitor="val_weird")
    with pytest.raises(ValueError, match="mode='max'"):
        run_epochs(es, [1.0], key="val_weird")


def test_reduce_lr_on_plateau_with_cooldown_and_min_lr():
    cb = callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, cooldown=2,
                                     min_lr=0.02, min_delta=0.0)
    model = FakeModel(lr=0.1)
    lrs = []
    cb.set_model(model)
    cb.on_train_begin()
    for epoch, value in enumerate([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]):
        logs = {"val_loss": value}
        cb.on_epoch_end(epoch, logs)
        lrs.append(round(float(model.optimizer.learning_rate.numpy()), 6))
    # As in Keras, the cooldown counter is decremented before the check, so cooldown=2
    # leaves one quiet epoch between reductions.
    assert lrs == [0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02]
    assert logs["learning_rate"] == pytest.approx(0.02)  # the rate the epoch ran with
    with pytest.raises(ValueError, match="factor"):
        callbacks.ReduceLROnPlateau(factor=1.5)


def test_reduce_lr_on_plateau_auto_mode_maximizes_auc():
    # Keras 3 takes the direction from the metric, not from "acc" in the monitor's name:
    # a rising AUC is improving, so the rate is only halved after the dip at epoch 3.
    cb = callbacks.ReduceLROnPlateau(monitor="val_auc", factor=0.5, patience=1, min_delta=0.0)
    model = FakeModel(lr=0.1)
    cb.set_model(model)
    cb.on_train_begin()
    lrs = []
    for epoch, value in enumerate([0.5, 0.6, 0.7, 0.65]):
        cb.on_epoch_end(epoch, {"val_auc": value})
        lrs.append(float(model.optimizer.learning_rate.numpy()))
    np.testing.assert_allclose(lrs, [0.1, 0.1, 0.1, 0.05], rtol=1e-6)


def test_learning_rate_scheduler_one_and_two_argument_schedules():
    model = FakeModel(lr=0.1)
    cb = callbacks.LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))
    cb.set_model(model)
    cb.on_epoch_begin(3)
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.025)
    cb = callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    cb.set_model(model)
    cb.on_epoch_begin(0)
    logs = {}
    cb.on_epoch_end(0, logs)
    assert logs["learning_rate"] == pytest.approx(0.0125)


def test_csv_logger_writes_and_appends(tmp_path):
    path = tmp_path / "log.csv"
    cb = callbacks.CSVLogger(path)
    run_epochs(cb, [0.5, 0.25], key="loss")
    rows = list(csv.reader(open(path)))
    # Keras 3 adds a val_ column for each key when the first epoch has none.
    assert rows == [["epoch", "loss", "val_loss"], ["0", "0.5", "NA"], ["1", "0.25", "NA"]]
    cb = callbacks.CSVLogger(path, append=True, separator=";")
    run_epochs(cb, [0.125], key="loss")
    assert open(path).read().splitlines()[-1] == "0;0.125;NA"


def test_terminate_on_nan():
    model = FakeModel()
    cb = callbacks.TerminateOnNaN()
    cb.set_model(model)
    cb.on_train_batch_end(0, {"loss": 1.0})
    assert not model.stop_training
    cb.on_train_batch_end(1, {"loss": math.inf})
    assert model.stop_training


def test_model_checkpoint_every_epoch_best_only_and_paths(tmp_path):
    model = FakeModel()
    cb = callbacks.ModelCheckpoint(str(tmp_path / "m-{epoch:02d}-{val_loss:.1f}.keras"))
    run_epochs(cb, [0.5, 0.25], model=model)
    assert [p.split("/")[-1] for p in model.saved] == ["m-01-0.5.keras", "m-02-0.2.keras"]
    model = FakeModel()
    cb = callbacks.ModelCheckpoint(str(tmp_path / "best.weights.npz"), save_best_only=True,
                                   save_weights_only=True)
    run_epochs(cb, [0.5, 0.7, 0.3], model=model)
    assert len(model.saved) == 2 and cb.best == 0.3
    with pytest.raises(ValueError, match=".keras"):
        callbacks.ModelCheckpoint("model.h5")
    with pytest.raises(ValueError, match=".weights.npz"):
        callbacks.ModelCheckpoint("w.keras", save_weights_only=True)


def test_lambda_callback_and_unknown_hook():
    seen = []
    cb = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch),
                                  on_batch_end=lambda batch, logs: seen.append(("b", batch)))
    cb.on_train_batch_end(0, {})
    cb.on_epoch_end(4, {})
    assert seen == [("b", 0), 4]
    with pytest.raises(ValueError, match="unknown hook"):
        callbacks.LambdaCallback(on_epoch_finish=print)


def test_callback_list_adds_history_and_progbar_once():
    history = callbacks.History()
    cl = callbacks.CallbackList([history], add_history=True, add_progbar=True, verbose=0,
                                epochs=1, steps=1)
    assert cl.history is history
    assert sum(isinstance(c, callbacks.ProgbarLogger) for c in cl.callbacks) == 1
    with pytest.raises(TypeError, match="gk.callbacks.Callback"):
        callbacks.CallbackList([print])


def test_a_single_callback_needs_no_list(model):
    # Keras flattens `callbacks`, so `fit(..., callbacks=cb)` works.
    seen = []
    cb = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch),
                                  on_test_end=lambda logs: seen.append("test"))
    x, y = data(4)
    model.fit(x, y, epochs=2, callbacks=cb, verbose=0)
    model.evaluate(x, y, callbacks=cb, verbose=0)
    assert seen == [0, 1, "test"]


# -- inside fit ----------------------------------------------------------------------------

@pytest.fixture
def model():
    gk.utils.set_random_seed(0)
    inp = gk.Input((2,))
    out = layers.Dense(1)(inp)
    m = gk.Model(inp, out)
    m.compile(optimizer=gk.optimizers.SGD(0.05), loss="mse", run_eagerly=True)
    return m


def data(n=16):
    x = np.random.default_rng(0).normal(size=(n, 2)).astype("float32")
    return x, x.sum(-1, keepdims=True)


def test_hooks_are_called_in_order_during_fit(model):
    calls = []

    class Recorder(callbacks.Callback):
        def on_train_begin(self, logs=None): calls.append("train_begin")
        def on_epoch_begin(self, epoch, logs=None): calls.append(f"epoch_begin{epoch}")
        def on_train_batch_end(self, batch, logs=None): calls.append(f"batch{batch}")
        def on_test_begin(self, logs=None): calls.append("test_begin")
        def on_epoch_end(self, epoch, logs=None): calls.append(f"epoch_end{epoch}")
        def on_train_end(self, logs=None): calls.append("train_end")
    x, y = data(8)
    model.fit(x, y, batch_size=4, epochs=2, validation_data=(x, y), callbacks=[Recorder()],
              verbose=0)
    assert calls == ["train_begin", "epoch_begin0", "batch0", "batch1", "test_begin",
                     "epoch_end0", "epoch_begin1", "batch0", "batch1", "test_begin",
                     "epoch_end1", "train_end"]


def test_progbar_epoch_line_shows_what_other_callbacks_add(model, capsys):
    # Keras appends the ProgbarLogger after the user's callbacks, so the epoch line shows
    # the "learning_rate" a LearningRateScheduler puts in the logs.
    x, y = data()
    sched = callbacks.LearningRateScheduler(lambda epoch, lr: 0.005)
    model.fit(x, y, epochs=1, callbacks=[sched], verbose=2)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("1/1 - ") and line.endswith(" - learning_rate: 0.0050")


def test_every_hook_gets_a_logs_dict(model):
    # Keras passes {} where there are no logs, so `lambda epoch, logs: ...` works.
    seen = []

    def record(name):
        if "batch" in name or "epoch" in name:
            return lambda index, logs: seen.append((name, type(logs).__name__))
        return lambda logs: seen.append((name, type(logs).__name__))
    hooks = ["on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_test_begin",
             "on_test_batch_begin", "on_train_end", "on_predict_begin",
             "on_predict_batch_begin", "on_predict_end"]
    cb = callbacks.LambdaCallback(**{h: record(h) for h in hooks})
    x, y = data(4)
    model.fit(x, y, batch_size=4, validation_data=(x, y), callbacks=[cb], verbose=0)
    model.predict(x, batch_size=4, callbacks=[cb], verbose=0)
    assert sorted(name for name, _ in seen) == sorted(hooks)
    assert all(kind == "dict" for _, kind in seen), seen


def test_csv_logger_keeps_val_columns_with_validation_freq(model, tmp_path):
    # The first epoch has no val_ keys when validation_freq=2; Keras still makes the
    # columns, so epoch 2's val_loss is written (NA in the other rows).
    x, y = data()
    path = tmp_path / "train.csv"
    h = model.fit(x, y, epochs=3, validation_data=(x, y), validation_freq=2,
                  callbacks=[callbacks.CSVLogger(path)], verbose=0)
    rows = list(csv.DictReader(open(path)))
    assert list(rows[0]) == ["epoch", "loss", "val_loss"]
    assert [r["val_loss"] for r in rows[::2]] == ["NA", "NA"]
    assert float(rows[1]["val_loss"]) == pytest.approx(h.history["val_loss"][0])


def test_progbar_keeps_the_length_an_unknown_sized_epoch_turned_out_to_have(model, capsys):
    # Keras's ProgbarLogger keeps the step count of the first epoch of a generator of
    # unknown length, so later epochs show "1/3" and an ETA, not "1/Unknown".
    x, y = data(12)

    class ThreeBatches:  # re-iterable, without __len__
        def __iter__(self):
            for i in range(3):
                yield x[4 * i:4 * i + 4], y[4 * i:4 * i + 4]

    bar = callbacks.ProgbarLogger()
    seen_targets = []
    probe = callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen_targets.append(bar.progbar.target))
    model.fit(ThreeBatches(), epochs=2, callbacks=[bar, probe], verbose=1)
    capsys.readouterr()
    assert seen_targets == [None, None, None, 3, 3, 3]


def test_early_stopping_stops_fit(model):
    x, y = data()
    es = callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=100.0)
    h = model.fit(x, y, epochs=10, callbacks=[es], verbose=0)
    assert h.epoch == [0, 1]


def test_terminate_on_nan_stops_fit(model):
    x, y = data()
    y[3] = np.nan
    h = model.fit(x, y, batch_size=4, epochs=5, callbacks=[callbacks.TerminateOnNaN()],
                  verbose=0)
    assert h.epoch == [0] and math.isnan(h.history["loss"][0])


def test_learning_rate_scheduler_in_fit(model):
    x, y = data()
    sched = callbacks.LearningRateScheduler(lambda epoch, lr: 0.01 * (epoch + 1))
    h = model.fit(x, y, epochs=3, callbacks=[sched], verbose=0)
    assert h.history["learning_rate"] == pytest.approx([0.01, 0.02, 0.03])


def test_csv_logger_in_fit(model, tmp_path):
    x, y = data()
    path = tmp_path / "train.csv"
    model.fit(x, y, epochs=2, validation_split=0.25, callbacks=[callbacks.CSVLogger(path)],
              verbose=0)
    rows = list(csv.DictReader(open(path)))
    assert [r["epoch"] for r in rows] == ["0", "1"]
    assert set(rows[0]) == {"epoch", "loss", "val_loss"}


def test_auto_mode_follows_metrics_compiled_from_strings():
    # Keras compiles "accuracy" and "mae" as metrics with a direction (up, down), so
    # EarlyStopping and ModelCheckpoint in mode "auto" can monitor them.
    model = gk.Sequential([layers.Input((2,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy",
                  metrics=["accuracy", "binary_accuracy", "mae"])
    model.fit(np.zeros((4, 2), "float32"), np.zeros((4, 1), "float32"), verbose=0)
    # Values that improve, worsen, then improve: patience 1 stops at epoch 2, the worse one.
    for name, values in (("val_accuracy", [0.5, 0.6, 0.55, 0.7]),
                         ("val_binary_accuracy", [0.5, 0.6, 0.55, 0.7]),
                         ("val_mae", [0.5, 0.4, 0.45, 0.3])):
        fake = FakeModel()
        fake.metrics = model.metrics
        ran, _ = run_epochs(callbacks.EarlyStopping(monitor=name, patience=1), values,
                            key=name, model=fake)
        assert ran == [0, 1, 2], name
