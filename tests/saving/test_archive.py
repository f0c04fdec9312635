import json
import os
import zipfile

import numpy as np
import pytest

import graphkit as gk
from graphkit import layers, ops, saving
from graphkit.saving import archive
from tests.saving import models


def fit_losses(model, x, y, epochs):
    history = model.fit(x, y, epochs=epochs, batch_size=8, shuffle=False, verbose=0)
    return history.history["loss"]


def compiled_functional(**compile_kwargs):
    gk.utils.set_random_seed(1)
    model = models.functional_model()
    model.compile(optimizer=gk.optimizers.Adam(0.01), loss="mse",
                  **{"run_eagerly": True, **compile_kwargs})
    return model


# -- round trips ---------------------------------------------------------------------------------------

def test_archive_layout_and_metadata(tmp_path):
    model = compiled_functional()
    path = tmp_path / "m.keras"
    model.save(path)
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["config.json", "metadata.json", "model.weights.npz"]
        metadata = json.loads(z.read("metadata.json"))
        config = json.loads(z.read("config.json"))
        weights = z.read("model.weights.npz")
    assert metadata["graphkit_version"] == gk.__version__
    assert metadata["format_version"] == archive.FORMAT_VERSION
    assert "date_saved" in metadata
    assert config["class_name"] == "Functional" and config["module"] == "graphkit.models"
    assert config["compile_config"]["loss"] == "mse"
    assert config["compile_config"]["optimizer"]["class_name"] == "Adam"
    import io
    with np.load(io.BytesIO(weights), allow_pickle=False) as npz:  # data only: no pickles
        keys = set(npz.files)
    assert "layers/dense/vars/0" in keys and "layers/scaled_dense/vars/1" in keys
    assert "layers/dropout/seed_generator/vars/0" in keys
    assert "optimizer/vars/0" in keys


def test_functional_model_with_custom_layer_roundtrips(tmp_path):
    model = compiled_functional()
    x, y = models.data()
    fit_losses(model, x, y, epochs=1)
    model.save(tmp_path / "m.keras")
    loaded = saving.load_model(tmp_path / "m.keras")
    assert type(loaded) is type(model)
    custom = [l for l in loaded.layers if isinstance(l, models.ScaledDense)]
    assert len(custom) == 1 and custom[0].scale == 0.5 and custom[0].units == 3
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    for a, b in zip(model.weights, loaded.weights):
        assert a.path == b.path
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)


def test_sequential_roundtrip_keeps_batchnorm_statistics(tmp_path):
    model = models.sequential_model()
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    x, y = models.data()
    fit_losses(model, x, y, epochs=1)
    model.save(tmp_path / "s.keras")
    loaded = gk.models.load_model(tmp_path / "s.keras")
    assert isinstance(loaded, gk.Sequential)
    moving_mean = [w for w in loaded.weights if "moving_mean" in w.path][0]
    assert np.abs(moving_mean.numpy()).sum() > 0  # trained statistics, not the zeros init
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)


def test_subclassed_registered_model_roundtrips(tmp_path):
    model = models.TwoLayerNet(hidden=5)
    x, y = models.data()
    model.compile(optimizer="rmsprop", loss="mae", run_eagerly=True)
    fit_losses(model, x, y, epochs=1)
    model.save(tmp_path / "sub.keras")
    loaded = saving.load_model(tmp_path / "sub.keras")
    assert isinstance(loaded, models.TwoLayerNet) and loaded.hidden == 5
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(loaded.optimizer.iterations.numpy(),
                                  model.optimizer.iterations.numpy())


def test_uncompiled_model_roundtrips_uncompiled(tmp_path):
    model = models.functional_model()
    model.save(tmp_path / "u.keras")
    loaded = saving.load_model(tmp_path / "u.keras")
    assert not loaded.compiled and loaded.optimizer is None
    x, _ = models.data()
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)


def test_compile_false_skips_the_compile_state(tmp_path):
    model = compiled_functional()
    fit_losses(model, *models.data(), epochs=1)
    model.save(tmp_path / "m.keras")
    loaded = saving.load_model(tmp_path / "m.keras", compile=False)
    assert not loaded.compiled


# -- resuming training ------------------------------------------------------------------------------

@pytest.mark.parametrize("compile_kwargs", [{}, {"run_eagerly": False}],
                         ids=["eager", "auto"])
def test_save_load_and_continue_equals_training_straight_through(tmp_path, compile_kwargs):
    x, y = models.data()
    straight = fit_losses(compiled_functional(**compile_kwargs), x, y, epochs=4)

    first = compiled_functional(**compile_kwargs)
    before = fit_losses(first, x, y, epochs=2)
    first.save(tmp_path / "half.keras")
    resumed = saving.load_model(tmp_path / "half.keras")
    after = fit_losses(resumed, x, y, epochs=2)

    np.testing.assert_allclose(before + after, straight, rtol=1e-6, atol=1e-7)
    assert int(resumed.optimizer.iterations.numpy()) == 16


def test_resuming_without_the_optimizer_state_would_differ(tmp_path):
    """The control for the test above: Adam's moments and step count matter."""
    x, y = models.data()
    straight = fit_losses(compiled_functional(), x, y, epochs=4)
    first = compiled_functional()
    before = fit_losses(first, x, y, epochs=2)
    first.save(tmp_path / "half.keras")
    fresh_optimizer = saving.load_model(tmp_path / "half.keras", compile=False)
    fresh_optimizer.compile(optimizer=gk.optimizers.Adam(0.01), loss="mse", run_eagerly=True)
    after = fit_losses(fresh_optimizer, x, y, epochs=2)
    assert not np.allclose(before + after, straight, rtol=1e-6, atol=1e-7)


def test_optimizer_saved_before_its_first_step_restores(tmp_path):
    x, y = models.data()
    straight = fit_losses(compiled_functional(), x, y, epochs=1)
    model = compiled_functional()
    model.save(tmp_path / "fresh.keras")
    loaded = saving.load_model(tmp_path / "fresh.keras")
    np.testing.assert_allclose(fit_losses(loaded, x, y, epochs=1), straight, rtol=1e-6)


# -- atomic writes -----------------------------------------------------------------------------------

class FailingSave(layers.Dense):
    def save_own_variables(self, store):
        super().save_own_variables(store)
        raise RuntimeError("disk on fire")


def test_a_failed_save_leaves_the_older_file_intact(tmp_path):
    path = tmp_path / "m.keras"
    models.functional_model().save(path)
    original = path.read_bytes()
    inputs = gk.Input((4,))
    broken = gk.Model(inputs, FailingSave(2)(inputs))
    with pytest.raises(RuntimeError, match="disk on fire"):
        broken.save(path)
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["m.keras"]  # no temporary file left behind


def test_a_save_interrupted_while_writing_leaves_the_older_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "m.keras"
    models.functional_model().save(path)
    original = path.read_bytes()
    real_writestr = zipfile.ZipFile.writestr

    def write_then_fail(self, name, data, *args, **kwargs):
        real_writestr(self, name, data, *args, **kwargs)
        if name == "config.json":
            raise OSError("No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", write_then_fail)
    with pytest.raises(OSError, match="No space left"):
        models.sequential_model().save(path)
    monkeypatch.undo()
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["m.keras"]
    assert isinstance(saving.load_model(path), gk.Model)


def test_overwrite_false_and_bad_targets(tmp_path):
    model = models.functional_model()
    model.save(tmp_path / "m.keras")
    with pytest.raises(FileExistsError, match="overwrite=False"):
        model.save(tmp_path / "m.keras", overwrite=False)
    with pytest.raises(ValueError, match="must end with '.keras'"):
        model.save(tmp_path / "m.zip")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        model.save(tmp_path / "missing_folder" / "m.keras")


def test_lambda_layer_cannot_be_saved_and_nothing_is_written(tmp_path):
    inputs = gk.Input((3,))
    model = gk.Model(inputs, layers.Lambda(lambda t: t * 2.0)(inputs))
    with pytest.raises(ValueError, match="lambda|Python code"):
        model.save(tmp_path / "l.keras")
    assert os.listdir(tmp_path) == []


@gk.saving.register_keras_serializable(package="AuditTest")
def _abs_loss(y_true, y_pred):
    return ops.mean(ops.abs(y_true - y_pred), axis=-1)


@gk.saving.register_keras_serializable(package="AuditTest")
class _ScaledMSE(gk.losses.Loss):
    def __init__(self, k=2.0, **kwargs):
        super().__init__(**kwargs)
        self.k = k

    def call(self, y_true, y_pred):
        return self.k * ops.mean(ops.square(y_true - y_pred), axis=-1)

    def get_config(self):
        return {**super().get_config(), "k": self.k}


@gk.saving.register_keras_serializable(package="AuditTest")
class _Total(gk.metrics.Metric):
    def __init__(self, name="total", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.total.assign_add(ops.sum(y_pred))

    def result(self):
        return self.total


def _unregistered_loss(y_true, y_pred):
    return ops.mean(ops.abs(y_true - y_pred), axis=-1)


@pytest.mark.parametrize("compile_kw, custom_objects", [
    ({"loss": _abs_loss}, None),
    ({"loss": _ScaledMSE(3.0)}, None),
    ({"loss": "mse", "metrics": [_Total()]}, None),
    ({"loss": _unregistered_loss}, {"_unregistered_loss": _unregistered_loss}),
])
def test_load_model_restores_custom_losses_and_metrics(tmp_path, compile_kw, custom_objects):
    model = gk.Sequential([gk.Input((2,)), layers.Dense(1, kernel_initializer="ones")])
    model.compile("sgd", **compile_kw)
    x, y = np.ones((4, 2), "float32"), np.zeros((4, 1), "float32")
    model.save(tmp_path / "m.keras")
    loaded = gk.models.load_model(tmp_path / "m.keras", custom_objects=custom_objects)
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0))


def test_metric_of_one_output_keeps_its_name_through_save_and_recompile(tmp_path):
    # As Keras 3: the logs say "cls_acc" after load_model and after a second compile with
    # the same metric object (the output prefix is added once).
    x = gk.Input((3,), name="x")
    model = gk.Model(x, {"reg": layers.Dense(1, name="reg")(x),
                         "cls": layers.Dense(3, activation="softmax", name="cls")(x)})
    acc = gk.metrics.SparseCategoricalAccuracy(name="acc")
    compile_kw = {"loss": {"reg": "mse", "cls": "sparse_categorical_crossentropy"},
                  "metrics": {"cls": [acc]}, "weighted_metrics": {"cls": ["mae"]},
                  "run_eagerly": True}
    model.compile("sgd", **compile_kw)
    data = np.random.default_rng(0).random((8, 3)).astype("float32")
    targets = {"reg": data[:, :1], "cls": np.arange(8).reshape(8, 1) % 3}
    keys = sorted(model.evaluate(data, targets, verbose=0, return_dict=True))
    assert "cls_acc" in keys and "cls_mae" in keys
    model.save(tmp_path / "m.keras")
    loaded = gk.models.load_model(tmp_path / "m.keras")
    assert sorted(loaded.evaluate(data, targets, verbose=0, return_dict=True)) == keys
    model.compile("sgd", **compile_kw)
    assert sorted(model.evaluate(data, targets, verbose=0, return_dict=True)) == keys


def test_model_with_a_frozen_layer_roundtrips_with_its_optimizer_state(tmp_path):
    # Transfer learning: the frozen base stays frozen, so the optimizer state (kept for the
    # trainable head only) fits the loaded model, and training resumes identically.
    gk.utils.set_random_seed(2)
    inputs = gk.Input((3,))
    base = layers.Dense(4, name="base")
    base.trainable = False
    model = gk.Model(inputs, layers.Dense(1, name="head")(base(inputs)))
    model.compile(optimizer="adam", loss="mse", run_eagerly=True)
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 1), "float32")
    model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = gk.models.load_model(tmp_path / "m.keras")
    assert loaded.get_layer("base").trainable is False
    assert fit_losses(loaded, x, y, 2) == fit_losses(model, x, y, 2)


@gk.saving.register_keras_serializable(package="AuditTest")
class _TwoOptimizers(gk.Model):
    """The Keras guide's GAN shape: compile() takes arguments of its own."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.generator = layers.Dense(3)
        self.discriminator = layers.Dense(1)

    def call(self, x):
        return self.discriminator(self.generator(x))

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn


def test_model_with_a_custom_compile_loads_uncompiled_with_a_warning(tmp_path):
    # As Keras 3: compile() is not replayed (its arguments are not the saved ones), the
    # weights load, and the state of the custom compile's optimizers is left out.
    x = np.ones((2, 3), "float32")
    model = _TwoOptimizers()
    model(x)
    model.compile(gk.optimizers.Adam(), gk.optimizers.SGD(), gk.losses.BinaryCrossentropy())
    model.save(tmp_path / "gan.keras")
    with pytest.warns(UserWarning, match="compile\\(\\) was not called"):
        loaded = gk.models.load_model(tmp_path / "gan.keras")
    assert isinstance(loaded, _TwoOptimizers) and not loaded.compiled
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
