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
