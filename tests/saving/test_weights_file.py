import json
import os

import numpy as np
import pytest

import graphkit as gk
from graphkit import layers, saving
from tests.saving import models


def mlp(hidden=8, extra_layer=False):
    inputs = gk.Input((4,))
    x = layers.Dense(hidden, activation="relu")(inputs)
    if extra_layer:
        x = layers.LayerNormalization()(x)
    return gk.Model(inputs, layers.Dense(2)(x))


def test_weights_roundtrip_into_a_fresh_model_with_other_layer_names(tmp_path):
    source = mlp()
    path = tmp_path / "w.weights.npz"
    source.save_weights(path)
    target = mlp()  # the same architecture; its layers are dense_2, dense_3
    assert [l.name for l in target.layers] != [l.name for l in source.layers]
    target.load_weights(path)
    for a, b in zip(source.weights, target.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    x, _ = models.data()
    np.testing.assert_allclose(target.predict(x, verbose=0), source.predict(x, verbose=0))


def test_file_is_plain_npz_with_metadata(tmp_path):
    path = tmp_path / "w.weights.npz"
    mlp().save_weights(path)
    with np.load(path, allow_pickle=False) as npz:
        keys = set(npz.files)
        metadata = json.loads(str(npz["__graphkit_metadata__"]))
    assert keys == {"__graphkit_metadata__", "layers/dense/vars/0", "layers/dense/vars/1",
                    "layers/dense_1/vars/0", "layers/dense_1/vars/1"}
    assert metadata["format_version"] == 1 and metadata["graphkit_version"] == gk.__version__


def test_shape_mismatch_is_named_by_path_and_variable(tmp_path):
    path = tmp_path / "w.weights.npz"
    mlp(hidden=8).save_weights(path)
    target = mlp(hidden=9)
    before = [w.numpy().copy() for w in target.weights]
    with pytest.raises(saving.WeightsMismatchError) as info:
        target.load_weights(path)
    message = str(info.value)
    assert str(path) in message and "layers/dense/vars/0" in message
    assert "(4, 8)" in message and "(4, 9)" in message and "kernel" in message
    for w, old in zip(target.weights, before):  # nothing was half-loaded before the check
        np.testing.assert_array_equal(w.numpy(), old)


def test_a_file_that_does_not_fit_leaves_the_model_untouched(tmp_path):
    # The mismatch is in the last layer, or is a layer the model does not have: the layers
    # walked before it must not be loaded either.
    small, big = tmp_path / "small.weights.npz", tmp_path / "big.weights.npz"
    mlp().save_weights(small)
    mlp(extra_layer=True).save_weights(big)
    inputs = gk.Input((4,))
    wider_output = gk.Model(inputs, layers.Dense(3)(layers.Dense(8)(inputs)))
    for target, path in ((wider_output, small), (mlp(), big)):
        before = [w.numpy().copy() for w in target.weights]
        with pytest.raises(saving.WeightsMismatchError):
            target.load_weights(path)
        for w, old in zip(target.weights, before):
            np.testing.assert_array_equal(w.numpy(), old)


def test_skip_mismatch_loads_the_rest_with_a_warning(tmp_path):
    path = tmp_path / "w.weights.npz"
    source = mlp(hidden=8)
    source.save_weights(path)
    target = mlp(hidden=8)
    target.layers[2].kernel.assign(np.zeros((8, 2), "float32"))
    # Break one entry: same model, but the file's output bias has another shape.
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["layers/dense/vars/1"] = np.zeros((3,), "float32")
    np.savez(path, **arrays)
    with pytest.warns(UserWarning, match="layers/dense/vars"):
        target.load_weights(path, skip_mismatch=True)
    np.testing.assert_array_equal(target.layers[2].kernel.numpy(),
                                  source.layers[2].kernel.numpy())


def test_missing_and_extra_layers_are_named(tmp_path):
    small, big = tmp_path / "small.weights.npz", tmp_path / "big.weights.npz"
    mlp().save_weights(small)
    mlp(extra_layer=True).save_weights(big)
    with pytest.raises(saving.WeightsMismatchError,
                       match="no variable .* takes: .*layers/layer_normalization/vars/0"):
        mlp().load_weights(big)
    with pytest.raises(saving.WeightsMismatchError,
                       match="holds 0 variables at 'layers/layer_normalization/vars'"):
        mlp(extra_layer=True).load_weights(small)


def _trained_weights_file(tmp_path):
    """An Adam-trained mlp and the weights file it saved (with its optimizer state)."""
    x, y = models.data()
    source = mlp()
    source.compile(optimizer="adam", loss="mse", run_eagerly=True)
    source.fit(x, y, epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "w.weights.npz"
    source.save_weights(path)
    return source, path


def test_optimizer_state_travels_with_the_weights(tmp_path):
    source, path = _trained_weights_file(tmp_path)
    target = mlp()
    target.compile(optimizer="adam", loss="mse", run_eagerly=True)
    target.load_weights(path)
    assert int(target.optimizer.iterations.numpy()) == 4
    for a, b in zip(source.optimizer.variables, target.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    uncompiled = mlp()
    uncompiled.load_weights(path)  # the optimizer entries are ignored without an optimizer
    np.testing.assert_array_equal(uncompiled.weights[0].numpy(), source.weights[0].numpy())


def test_state_of_another_optimizer_is_skipped_with_a_warning(tmp_path):
    # As Keras 3 ("Skipping variable loading for optimizer ..."): the weights still load.
    source, path = _trained_weights_file(tmp_path)
    target = mlp()
    target.compile(optimizer=gk.optimizers.SGD(momentum=0.9), loss="mse", run_eagerly=True)
    with pytest.warns(UserWarning, match="skipping the optimizer state at 'optimizer/vars'"):
        target.load_weights(path)
    for a, b in zip(source.weights, target.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert int(target.optimizer.iterations.numpy()) == 0


def test_load_weights_from_a_keras_file(tmp_path):
    source = mlp()
    source.save(tmp_path / "m.keras")
    target = mlp()
    target.load_weights(tmp_path / "m.keras")
    np.testing.assert_array_equal(target.weights[0].numpy(), source.weights[0].numpy())


def test_suffix_and_target_checks(tmp_path):
    model = mlp()
    with pytest.raises(ValueError, match=r"must end with '\.weights\.npz'"):
        model.save_weights(tmp_path / "w.npz")
    with pytest.raises(ValueError, match="must end with"):
        model.load_weights(tmp_path / "w.npz")
    with pytest.raises(FileNotFoundError, match="no such file"):
        model.load_weights(tmp_path / "missing.weights.npz")
    model.save_weights(tmp_path / "w.weights.npz")
    with pytest.raises(FileExistsError):
        model.save_weights(tmp_path / "w.weights.npz", overwrite=False)


def test_unbuilt_model_is_refused(tmp_path):
    model = gk.Sequential([layers.Dense(2)])
    with pytest.raises(ValueError, match="not built"):
        model.save_weights(tmp_path / "w.weights.npz")


def test_corrupt_and_foreign_weight_files(tmp_path):
    path = tmp_path / "w.weights.npz"
    mlp().save_weights(path)
    data = path.read_bytes()
    path.write_bytes(data[:200])
    with pytest.raises(saving.SavedFileError, match="w.weights.npz"):
        mlp().load_weights(path)
    np.savez(path, something=np.ones(3))
    with pytest.raises(saving.SavedFileError, match="__graphkit_metadata__"):
        mlp().load_weights(path)


def test_weights_file_that_is_not_an_npz_archive(tmp_path):
    path = tmp_path / "w.weights.npz"
    with open(path, "wb") as f:
        np.save(f, np.ones(3, "float32"))  # an .npy array under an .npz name
    with pytest.raises(saving.SavedFileError,
                       match=r"^Cannot load '.*w\.weights\.npz': not an \.npz archive"):
        mlp().load_weights(path)
    path.write_bytes(b"hello, I am not an array")
    with pytest.raises(saving.SavedFileError) as info:
        mlp().load_weights(path)
    message = str(info.value)
    assert "not an .npz archive" in message and "pickle" not in message and ": :" not in message


def test_failed_weights_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "w.weights.npz"
    mlp().save_weights(path)
    original = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        mlp(hidden=3).save_weights(path)
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["w.weights.npz"]
