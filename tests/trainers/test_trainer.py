"""compile / fit / evaluate / predict on real models, checked against NumPy float64."""
import logging

import numpy as np
import pytest

import graphkit as gk
from graphkit import layers


def linear_model(units=2, n_in=3, use_bias=True):
    inp = gk.Input((n_in,))
    out = layers.Dense(units, use_bias=use_bias, kernel_initializer="glorot_uniform")(inp)
    return gk.Model(inp, out)


def test_train_on_batch_matches_a_numpy_sgd_step():
    model = linear_model()
    w0, b0 = [v.numpy().astype(np.float64) for v in model.trainable_variables]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3)).astype("float32")
    y = rng.normal(size=(8, 2)).astype("float32")
    model.compile(optimizer=gk.optimizers.SGD(0.1), loss="mse")
    loss = model.train_on_batch(x, y)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    err = x64 @ w0 + b0 - y64
    assert loss == pytest.approx(np.mean(err ** 2), rel=1e-5)
    grad_out = 2 * err / err.size
    lr = float(np.float32(0.1))
    w1, b1 = [v.numpy() for v in model.trainable_variables]
    np.testing.assert_allclose(w1, w0 - lr * x64.T @ grad_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b1, b0 - lr * grad_out.sum(0), rtol=1e-5, atol=1e-6)
    assert int(model.optimizer.iterations.numpy()) == 1


def test_fit_returns_history_and_runs_the_requested_epochs():
    model = linear_model()
    x = np.random.default_rng(1).normal(size=(20, 3))
    y = x @ np.array([[1.0, -1.0], [0.5, 0.0], [0.0, 2.0]])
    model.compile(optimizer=gk.optimizers.Adam(0.05), loss="mse", metrics=["mae"])
    history = model.fit(x, y, batch_size=5, epochs=4, verbose=0)
    assert isinstance(history, gk.callbacks.History) and model.history is history
    assert history.epoch == [0, 1, 2, 3]
    assert set(history.history) == {"loss", "mae"}
    assert all(isinstance(v, float) for v in history.history["loss"])
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert int(model.optimizer.iterations.numpy()) == 16
    again = model.fit(x, y, batch_size=5, epochs=6, initial_epoch=4, verbose=0)
    assert again.epoch == [4, 5]


def test_epoch_loss_is_the_sample_weighted_mean_of_batch_losses():
    model = linear_model()
    x = np.random.default_rng(2).normal(size=(7, 3)).astype("float32")
    y = np.zeros((7, 2), "float32")
    model.compile(optimizer=gk.optimizers.SGD(0.0), loss="mse")  # lr 0: fixed weights
    logs = model.fit(x, y, batch_size=3, epochs=1, shuffle=False, verbose=0).history
    pred = model.predict(x, verbose=0)
    assert logs["loss"][0] == pytest.approx(np.mean(pred.astype(np.float64) ** 2), rel=1e-5)


def test_digits_mlp_reaches_95_percent_test_accuracy():
    (x, y), (xt, yt) = gk.datasets.digits.load_data()
    x = x.reshape(-1, 64).astype("float32") / 16.0
    xt = xt.reshape(-1, 64).astype("float32") / 16.0
    gk.utils.set_random_seed(0)
    model = gk.Sequential([gk.Input((64,)), layers.Dense(64, activation="relu"),
                           layers.Dense(10)])
    model.compile(optimizer=gk.optimizers.Adam(0.01),
                  loss=gk.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=32, epochs=8, verbose=0)
    loss, acc = model.evaluate(xt, yt, verbose=0)
    assert acc >= 0.95
    assert model.metrics_names == ["loss", "accuracy"]
    probs = model.predict(xt, batch_size=64, verbose=0)
    assert probs.shape == (355, 10)
    assert np.mean(probs.argmax(-1) == yt) == pytest.approx(acc, abs=1e-6)


def test_evaluate_return_dict_and_sample_weight():
    model = linear_model()
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    w = np.array([1.0, 0.0, 2.0, 1.0, 0.0, 1.0])
    model.compile(optimizer="sgd", loss="mse", metrics=["mse"], weighted_metrics=["mse"])
    pred = model.predict(x, verbose=0).astype(np.float64)
    per = np.mean((pred - y) ** 2, -1)
    logs = model.evaluate(x, y, sample_weight=w, batch_size=4, return_dict=True, verbose=0)
    # Metrics given by string are reported under that string, as in Keras 3.
    assert set(logs) == {"loss", "mse", "weighted_mse"}
    # The loss: per-batch sum(w * l) / batch size, averaged over samples by batch size.
    batch_losses = [np.sum((per * w)[:4]) / 4, np.sum((per * w)[4:]) / 2]
    assert logs["loss"] == pytest.approx((batch_losses[0] * 4 + batch_losses[1] * 2) / 6,
                                         rel=1e-5)
    assert logs["mse"] == pytest.approx(per.mean(), rel=1e-5)
    assert logs["weighted_mse"] == pytest.approx((per * w).sum() / w.sum(), rel=1e-5)


class ActivityRegularization(layers.Layer):
    def __init__(self, rate=1e-2):
        super().__init__()
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * gk.ops.sum(inputs))
        return inputs


def test_add_loss_is_added_to_the_compiled_loss_and_trains_alone():
    inp = gk.Input((3,))
    out = ActivityRegularization()(layers.Dense(3, kernel_initializer="ones")(inp))
    model = gk.Model(inp, out)
    x = np.ones((2, 3), "float32")
    y = np.zeros((2, 3), "float32")
    model.compile(optimizer=gk.optimizers.SGD(0.0), loss="mse")
    pred = model.predict(x, verbose=0)
    logs = model.test_on_batch(x, y, return_dict=True)
    assert logs["loss"] == pytest.approx(np.mean(pred ** 2) + 1e-2 * pred.sum(), rel=1e-5)
    # Without a compiled loss the add_loss losses are the whole objective (seed guide).
    model.compile(optimizer="adam")
    model.fit(np.random.random((2, 3)), np.random.random((2, 3)), verbose=0)
    history = model.fit(x, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_compile_without_loss_and_no_add_loss_says_so():
    model = linear_model()
    model.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="No loss to compute"):
        model.fit(np.ones((2, 3)), np.ones((2, 2)), verbose=0)


def test_methods_before_compile_raise():
    model = linear_model()
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(np.ones((2, 3)), np.ones((2, 2)))
    # predict does not need compile
    assert model.predict(np.ones((2, 3)), verbose=0).shape == (2, 2)


def test_multi_output_losses_by_name_with_weights():
    inp = gk.Input((4,), name="features")
    h = layers.Dense(5, activation="tanh")(inp)
    reg = layers.Dense(1, name="reg")(h)
    cls = layers.Dense(3, name="cls")(h)
    model = gk.Model(inp, [reg, cls])
    rng = np.random.default_rng(4)
    x = rng.normal(size=(10, 4))
    y_reg, y_cls = rng.normal(size=(10, 1)), rng.integers(0, 3, size=10)
    model.compile(optimizer=gk.optimizers.SGD(0.0),
                  loss={"reg": "mse",
                        "cls": gk.losses.SparseCategoricalCrossentropy(from_logits=True)},
                  loss_weights={"reg": 2.0, "cls": 0.5},
                  metrics={"cls": ["accuracy"]})
    logs = model.evaluate(x, {"reg": y_reg, "cls": y_cls}, return_dict=True, verbose=0)
    p_reg, p_cls = model.predict(x, verbose=0)
    mse = np.mean((p_reg - y_reg) ** 2)
    z = p_cls.astype(np.float64)
    logp = z - z.max(-1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
    ce = -logp[np.arange(10), y_cls].mean()
    assert logs["reg_loss"] == pytest.approx(mse, rel=1e-5)
    assert logs["cls_loss"] == pytest.approx(ce, rel=1e-5)
    assert logs["loss"] == pytest.approx(2.0 * mse + 0.5 * ce, rel=1e-5)
    assert logs["cls_accuracy"] == pytest.approx(np.mean(z.argmax(-1) == y_cls))
    history = model.fit(x, [y_reg, y_cls], epochs=1, verbose=0)
    assert {"loss", "reg_loss", "cls_loss", "cls_accuracy"} == set(history.history)


def test_predict_keeps_the_output_structure_over_batches():
    inp = gk.Input((2,))
    a = layers.Dense(3)(inp)
    b = layers.Dense(1)(inp)
    model = gk.Model(inp, {"a": a, "b": b})
    out = model.predict(np.ones((7, 2)), batch_size=3, verbose=0)
    assert out["a"].shape == (7, 3) and out["b"].shape == (7, 1)
    single = model.predict_on_batch(np.ones((2, 2)))
    assert single["a"].shape == (2, 3)


def test_validation_split_and_validation_data_report_val_metrics():
    model = linear_model()
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 2))
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    h = model.fit(x, y, validation_split=0.25, epochs=2, verbose=0)
    assert {"val_loss", "val_mae"} <= set(h.history)
    h = model.fit(x, y, validation_data=(x[:4], y[:4]), epochs=3, validation_freq=2,
                  verbose=0)
    assert len(h.history["val_loss"]) == 1  # validated after epoch 2 only
    manual = model.evaluate(x[:4], y[:4], return_dict=True, verbose=0)
    assert set(manual) == {"loss", "mae"}


def test_class_weight_weights_the_loss():
    model = linear_model(units=1)
    x = np.random.default_rng(6).normal(size=(6, 3))
    y = np.array([0, 1, 0, 1, 1, 0])
    model.compile(optimizer=gk.optimizers.SGD(0.0), loss="mse")
    pred = model.predict(x, verbose=0)[:, 0].astype(np.float64)
    h = model.fit(x, y, class_weight={0: 1.0, 1: 3.0}, batch_size=6, epochs=1, verbose=0)
    w = np.where(y == 1, 3.0, 1.0)
    assert h.history["loss"][0] == pytest.approx(np.sum(w * (pred - y) ** 2) / 6, rel=1e-5)


def test_generator_and_py_dataset_inputs():
    model = linear_model()
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(7)

    def batches():
        for _ in range(4):
            yield rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    h = model.fit(batches(), epochs=1, verbose=0)
    assert len(h.history["loss"]) == 1

    class Data(gk.utils.PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return np.full((4, 3), float(i)), np.zeros((4, 2)), np.ones(4)
    h = model.fit(Data(), epochs=2, verbose=0)
    assert h.epoch == [0, 1]
    assert isinstance(model.evaluate(Data(), verbose=0), float)
    assert model.predict(Data(), verbose=0).shape == (12, 2)


def test_a_generator_that_runs_out_stops_training_with_a_warning():
    model = linear_model()
    model.compile(optimizer="sgd", loss="mse")
    gen = ((np.ones((2, 3)), np.ones((2, 2))) for _ in range(2))
    with pytest.warns(UserWarning, match="ran out of data"):
        h = model.fit(gen, epochs=3, verbose=0)
    assert h.epoch == [0, 1]


class TwoLayer(gk.Model):
    def __init__(self):
        super().__init__()
        self.hidden = layers.Dense(8, activation="relu")
        self.out = layers.Dense(1)

    def call(self, x, training=False):
        return self.out(self.hidden(x))


def test_subclassed_model_is_built_on_the_first_batch_and_trains():
    gk.utils.set_random_seed(1)
    model = TwoLayer()
    x = np.random.default_rng(8).normal(size=(64, 2)).astype("float32")
    y = (x[:, :1] * 2 - x[:, 1:]).astype("float32")
    model.compile(optimizer=gk.optimizers.Adam(0.02), loss="mse")
    h = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert model.built and len(model.trainable_variables) == 4
    assert h.history["loss"][-1] < 0.2 * h.history["loss"][0]


class ManualStep(gk.Model):
    """A Keras-TF-style override: GradientTape + optimizer.apply, stateful."""

    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(1, kernel_initializer="zeros")
        self.steps_run = 0

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        x, y = data
        with gk.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        self.steps_run += 1
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def test_a_stateful_train_step_override_runs_as_written():
    model = ManualStep()
    model.compile(optimizer=gk.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    x = np.ones((4, 1), "float32")
    y = np.full((4, 1), 2.0, "float32")
    h = model.fit(x, y, batch_size=2, epochs=2, verbose=0)
    assert model.steps_run == 4
    assert set(h.history) == {"loss", "mae"}
    assert h.history["loss"][1] < h.history["loss"][0]


class OwnTestLogs(gk.Model):
    """A test_step returning logs of its own, not the metrics' results."""

    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(1, kernel_initializer="ones")

    def call(self, x):
        return self.dense(x)

    def test_step(self, data):
        x, y = data
        return {"sq_err": gk.ops.mean(gk.ops.square(self(x) - y))}


def test_evaluate_returns_a_custom_test_steps_own_logs():
    # Keras returns the last step's logs when their keys are not the metrics' (rather
    # than the untouched loss tracker), so fit reports them as val_ logs too.
    model = OwnTestLogs()
    model.compile(optimizer=gk.optimizers.SGD(0.0), loss="mse")
    x = np.arange(6, dtype="float32").reshape(6, 1)
    y = np.zeros((6, 1), "float32")
    logs = model.evaluate(x, y, batch_size=4, return_dict=True, verbose=0)
    assert logs == {"sq_err": pytest.approx(np.mean(x[4:] ** 2))}  # the last batch's
    h = model.fit(x, y, batch_size=4, validation_data=(x, y), verbose=0)
    assert h.history["val_sq_err"] == [pytest.approx(np.mean(x[4:] ** 2))]


def test_jit_compile_true_without_the_compiler_is_a_clear_error():
    model = linear_model()
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    with pytest.raises(RuntimeError, match="compiler is not available"):
        model.fit(np.ones((2, 3)), np.ones((2, 2)), verbose=0)


def test_jit_compile_auto_runs_eagerly_and_logs_it_once(caplog):
    model = linear_model()
    model.compile(optimizer="sgd", loss="mse")
    with caplog.at_level(logging.INFO, logger="graphkit.trainers"):
        model.fit(np.ones((4, 3)), np.ones((4, 2)), batch_size=2, epochs=2, verbose=0)
        model.evaluate(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    messages = [r.getMessage() for r in caplog.records if r.name == "graphkit.trainers"]
    assert len(messages) == 1 and "run eagerly" in messages[0]


def test_auto_falls_back_to_eager_when_compiling_fails(monkeypatch, caplog):
    from graphkit.trainers import trainer

    def broken_jit(fn, **options):  # options: donate_argnums
        def compiled(*args):
            raise NotImplementedError("no lowering for op 'mystery'")
        return compiled
    monkeypatch.setattr(trainer, "compiler_status", lambda: (broken_jit, None))
    model = linear_model()
    model.compile(optimizer=gk.optimizers.SGD(0.1), loss="mse")
    with caplog.at_level(logging.INFO, logger="graphkit.trainers"):
        h = model.fit(np.ones((4, 3)), np.ones((4, 2)), epochs=2, verbose=0)
    assert len(h.history["loss"]) == 2
    assert any("no lowering for op 'mystery'" in r.getMessage() for r in caplog.records)
    model.compile(optimizer=gk.optimizers.SGD(0.1), loss="mse", jit_compile=True)
    with pytest.raises(NotImplementedError, match="mystery"):
        model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)


def test_verbose_output_piped_is_one_plain_line_per_epoch(capsys):
    model = linear_model()
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    model.fit(np.ones((10, 3)), np.ones((10, 2)), batch_size=4, epochs=2,
              validation_data=(np.ones((4, 3)), np.ones((4, 2))))
    out = capsys.readouterr().out
    assert "\r" not in out and "\b" not in out and "\x1b" not in out
    lines = out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    assert lines[1].startswith("3/3 - ") and "val_loss:" in lines[1] and "mae:" in lines[1]
    model.fit(np.ones((10, 3)), np.ones((10, 2)), epochs=1, verbose=0)
    assert capsys.readouterr().out == ""
    model.evaluate(np.ones((10, 3)), np.ones((10, 2)), verbose=2)
    assert capsys.readouterr().out.startswith("1/1 - ")


def test_compile_config_round_trip():
    model = linear_model()
    model.compile(optimizer=gk.optimizers.Adam(0.003), loss="mse",
                  metrics=["mae", gk.metrics.AUC(name="auc")])
    config = model.get_compile_config()
    assert config["optimizer"]["class_name"] == "Adam"
    assert config["metrics"][0] == "mae" and config["metrics"][1]["class_name"] == "AUC"
    other = linear_model()
    other.compile_from_config(config)
    assert isinstance(other.optimizer, gk.optimizers.Adam)
    assert other.optimizer.get_config() == model.optimizer.get_config()


def test_bad_arguments_are_named():
    model = linear_model()
    with pytest.raises(ValueError, match="jit_compile"):
        model.compile(jit_compile="yes")
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="verbose"):
        model.fit(np.ones((2, 3)), np.ones((2, 2)), verbose=3)
    with pytest.raises(ValueError, match="Did you mean"):
        model.compile(optimizer="sgdd")
    with pytest.raises(ValueError, match="same number of samples"):
        model.fit(np.ones((3, 3)), np.ones((2, 2)), verbose=0)


def test_weighted_metrics_keep_their_name_unless_an_unweighted_one_has_it():
    model = linear_model()
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    w = np.array([1.0, 0.0, 2.0, 1.0, 0.0, 1.0])
    model.compile(optimizer="sgd", loss="mse", weighted_metrics=["mse"])
    pred = model.predict(x, verbose=0).astype(np.float64)
    per = np.mean((pred - y) ** 2, -1)
    logs = model.evaluate(x, y, sample_weight=w, batch_size=4, return_dict=True, verbose=0)
    # Keras 3 adds "weighted_" only to tell it from an unweighted metric of the same name.
    assert set(logs) == {"loss", "mse"}
    assert logs["mse"] == pytest.approx((per * w).sum() / w.sum(), rel=1e-5)


def two_output_model():
    inp = gk.Input((3,))
    zz = layers.Dense(2, name="zz", kernel_initializer="ones")(inp)
    aa = layers.Dense(1, activation="sigmoid", name="aa", kernel_initializer="ones")(inp)
    return gk.Model(inp, [zz, aa])


def test_multi_output_evaluate_lists_losses_then_sorted_metrics():
    # Keras 3's order: loss, the per-output losses, then the compiled metrics (keyed
    # `<output>_<metric>`), sorted; train_on_batch and test_on_batch list the same way.
    model = two_output_model()
    model.compile(optimizer=gk.optimizers.SGD(0.0), loss=["mse", "binary_crossentropy"],
                  metrics={"aa": ["accuracy"], "zz": ["mse", "mae"]})
    rng = np.random.default_rng(8)
    x, y1 = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    y2 = (rng.uniform(size=(10, 1)) > 0.5).astype("float32")
    logs = model.evaluate(x, [y1, y2], return_dict=True, verbose=0)
    order = ["loss", "zz_loss", "aa_loss", "aa_accuracy", "zz_mae", "zz_mse"]
    assert set(logs) == set(order)
    expected = [logs[k] for k in order]
    assert model.evaluate(x, [y1, y2], verbose=0) == pytest.approx(expected)
    assert model.test_on_batch(x, [y1, y2]) == pytest.approx(expected)
    assert model.train_on_batch(x, [y1, y2]) == pytest.approx(expected)


def test_logs_keys_are_sorted_as_keras_sorts_them(capsys):
    # Keras 3 sorts the logs (`pythonify_logs`): History, the progress line and
    # return_dict results read "accuracy" before "loss".
    model = gk.Sequential([layers.Input((2,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    x, y = np.zeros((4, 2), "float32"), np.ones((4, 1), "float32")
    h = model.fit(x, y, validation_data=(x, y), verbose=2)
    assert list(h.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert [part.split(":")[0] for part in line.split(" - ")[3:]] == list(h.history)
    assert list(model.evaluate(x, y, return_dict=True, verbose=0)) == ["accuracy", "loss"]
    assert list(model.train_on_batch(x, y, return_dict=True)) == ["accuracy", "loss"]
    # The list form keeps metrics_names' order.
    logs = model.evaluate(x, y, return_dict=True, verbose=0)
    assert model.evaluate(x, y, verbose=0) == pytest.approx([logs["loss"], logs["accuracy"]])


def test_bad_validation_freq_is_named():
    model = linear_model()
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((2, 3)), np.ones((2, 2))
    for bad in (0, "2", 1.5):
        with pytest.raises(ValueError, match=f"`validation_freq`.*received {bad!r}"):
            model.fit(x, y, validation_data=(x, y), validation_freq=bad, verbose=0)
    h = model.fit(x, y, epochs=3, validation_data=(x, y), validation_freq=[1, 3], verbose=0)
    assert len(h.history["val_loss"]) == 2
    h = model.fit(x, y, epochs=2, validation_data=(x, y), validation_freq=np.int64(2),
                  verbose=0)
    assert len(h.history["val_loss"]) == 1


def test_missing_targets_name_y():
    # A compiled loss with no `y` (or validation_data without targets) is missing data,
    # not a missing loss.
    model = linear_model()
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((2, 3)), np.ones((2, 2))
    with pytest.raises(ValueError, match="Target data is missing.*loss='mse'.*y=None"):
        model.fit(x, verbose=0)
    with pytest.raises(ValueError, match="Target data is missing"):
        model.fit(x, y, validation_data=(x,), verbose=0)


def test_evaluate_and_predict_steps_past_the_data_read_it_once():
    # As in Keras, `steps` beyond the data's batches stop at its end (with a warning):
    # no sample is predicted twice or counted twice in the metrics.
    model = linear_model()
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    with pytest.warns(UserWarning, match="ran out of data"):
        pred = model.predict(x, batch_size=4, steps=5, verbose=0)
    assert pred.shape == (10, 2)
    with pytest.warns(UserWarning, match="ran out of data"):
        loss = model.evaluate(x, y, batch_size=4, steps=5, verbose=0)
    assert loss == pytest.approx(np.mean((pred.astype(np.float64) - y) ** 2), rel=1e-5)


def test_steps_take_numpy_integers_and_errors_name_the_argument():
    # Keras takes `steps_per_epoch=np.int64(2)` (e.g. from np.ceil(...).astype(int)).
    model = linear_model()
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((10, 3)), np.ones((10, 2))
    model.fit(x, y, batch_size=4, steps_per_epoch=np.int64(2), verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 2
    assert model.predict(x, batch_size=4, steps=np.int64(2), verbose=0).shape == (8, 2)
    with pytest.raises(ValueError, match="`steps` must be a positive integer.*received 0"):
        model.evaluate(x, y, steps=0, verbose=0)
    with pytest.raises(ValueError, match="`steps` must be a positive integer.*received 1.5"):
        model.predict(x, steps=1.5, verbose=0)
    with pytest.raises(ValueError, match="`steps_per_epoch` must be a positive integer"):
        model.fit(x, y, steps_per_epoch=True, verbose=0)
