"""Every damaged or foreign file gives an error that names the file, the part at fault and a
fix, and nothing in a file is ever executed."""
import io
import json
import pickle
import zipfile

import numpy as np
import pytest

import graphkit as gk
from graphkit import saving
from graphkit.saving import registration
from tests.saving import models


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "good.keras"
    models.functional_model().save(path)
    return path


def members(path):
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def write_archive(path, parts):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return path


def test_missing_file_and_wrong_suffixes(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.keras"):
        saving.load_model(tmp_path / "nope.keras")
    with pytest.raises(ValueError, match="load_weights"):
        saving.load_model(tmp_path / "x.weights.npz")
    with pytest.raises(ValueError, match="HDF5"):
        saving.load_model(tmp_path / "x.h5")
    with pytest.raises(ValueError, match="must end with '.keras'"):
        saving.load_model(tmp_path / "x.bin")


def test_not_a_zip(tmp_path):
    path = tmp_path / "text.keras"
    path.write_text("hello, I am not a model")
    with pytest.raises(saving.SavedFileError) as info:
        saving.load_model(path)
    message = str(info.value)
    assert str(path) in message and "zip" in message and "Save the model again" in message


def test_truncated_file(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(saving.SavedFileError, match="truncated") as info:
        saving.load_model(saved)
    assert info.value.path == str(saved)


def test_corrupt_member_is_named(tmp_path):
    path = tmp_path / "flip.keras"
    parts = members(models_file(tmp_path))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    raw = bytearray(path.read_bytes())
    start = raw.find(b'"class_name"')  # inside config.json, stored uncompressed
    raw[start + 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(saving.SavedFileError, match="config.json") as info:
        saving.load_model(path)
    assert "corrupt" in str(info.value)


def models_file(tmp_path):
    path = tmp_path / "source.keras"
    models.functional_model().save(path)
    return path


def test_missing_member_is_named(saved, tmp_path):
    parts = members(saved)
    del parts["model.weights.npz"]
    path = write_archive(tmp_path / "partial.keras", parts)
    with pytest.raises(saving.SavedFileError, match="model.weights.npz"):
        saving.load_model(path)


def test_config_that_is_not_json(saved, tmp_path):
    parts = members(saved)
    parts["config.json"] = b"{not json"
    path = write_archive(tmp_path / "bad.keras", parts)
    with pytest.raises(saving.SavedFileError, match="config.json: not valid JSON"):
        saving.load_model(path)


def test_config_without_class_name(saved, tmp_path):
    parts = members(saved)
    parts["config.json"] = json.dumps({"config": {}}).encode()
    path = write_archive(tmp_path / "bad.keras", parts)
    with pytest.raises(saving.SavedFileError, match="config.json: class_name"):
        saving.load_model(path)


def test_wrong_format_version_says_how_to_fix(saved, tmp_path):
    parts = members(saved)
    metadata = json.loads(parts["metadata.json"])
    metadata.update(format_version=99, graphkit_version="9.0.0")
    parts["metadata.json"] = json.dumps(metadata).encode()
    path = write_archive(tmp_path / "future.keras", parts)
    with pytest.raises(saving.SavedFileError) as info:
        saving.load_model(path)
    message = str(info.value)
    assert "format_version" in message and "99" in message and "9.0.0" in message
    assert "save the model again" in message
    assert info.value.field == "metadata.json: format_version"


def test_missing_format_version(saved, tmp_path):
    parts = members(saved)
    parts["metadata.json"] = b"{}"
    path = write_archive(tmp_path / "old.keras", parts)
    with pytest.raises(saving.SavedFileError, match="format_version"):
        saving.load_model(path)


def test_unknown_class_names_file_and_class_and_fix(tmp_path):
    class Unregistered(gk.Layer):
        def call(self, x):
            return x

        def get_config(self):
            return super().get_config()

    inputs = gk.Input((2,))
    model = gk.Model(inputs, Unregistered()(inputs))
    path = tmp_path / "custom.keras"
    model.save(path)
    with pytest.raises(saving.UnknownObjectError) as info:
        saving.load_model(path)
    message = str(info.value)
    assert str(path) in message and "Unregistered" in message
    assert "custom_objects" in message and "register_keras_serializable" in message
    loaded = saving.load_model(path, custom_objects={"Unregistered": Unregistered})
    assert isinstance(loaded.layers[-1], Unregistered)


def test_unregistered_custom_layer_gets_a_close_match(tmp_path):
    path = tmp_path / "m.keras"
    models.functional_model().save(path)
    del registration._REGISTERED_OBJECTS["SavingTests>ScaledDense"]
    registration._REGISTERED_OBJECTS["SavingTests>ScaledDense2"] = models.ScaledDense
    with pytest.raises(saving.UnknownObjectError, match="Did you mean 'SavingTests>Scaled"):
        saving.load_model(path)


def test_pickled_weights_are_refused(saved, tmp_path):
    parts = members(saved)
    buffer = io.BytesIO()
    np.savez(buffer, **{"layers/dense/vars/0": np.array([object()], dtype=object)})
    parts["model.weights.npz"] = buffer.getvalue()
    path = write_archive(tmp_path / "pickled.keras", parts)
    with pytest.raises(saving.SavedFileError, match="pickle"):
        saving.load_model(path)


def test_weights_member_that_is_not_an_npz_archive(saved, tmp_path):
    # A lone .npy array, or bytes that are neither zip nor .npy, is a damaged file: the
    # error says so (not a raw TypeError, and not "a pickled Python object").
    npy = io.BytesIO()
    np.save(npy, np.ones(3, "float32"))
    for name, data in [("npy", npy.getvalue()), ("zeros", b"\0" * 100),
                       ("text", b"hello, I am not an array")]:
        parts = members(saved)
        parts["model.weights.npz"] = data
        path = write_archive(tmp_path / f"{name}.keras", parts)
        with pytest.raises(saving.SavedFileError) as info:
            saving.load_model(path)
        message = str(info.value)
        assert str(path) in message and "model.weights.npz" in message
        assert "not an .npz archive" in message and "pickle" not in message


def test_malformed_input_and_output_references_are_named(saved, tmp_path):
    # A string where the reference list belongs recursed until RecursionError.
    for field, bad in [("input_layers", "zz"), ("output_layers", 5)]:
        parts = members(saved)
        config = json.loads(parts["config.json"])
        config["config"][field] = bad
        parts["config.json"] = json.dumps(config)
        path = write_archive(tmp_path / f"{field}.keras", parts)
        with pytest.raises(ValueError) as info:
            saving.load_model(path)
        message = str(info.value)
        assert str(path) in message and "config.json" in message and repr(bad) in message


def test_a_pickle_disguised_as_a_model_is_never_unpickled(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.keras"
    path.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(saving.SavedFileError):
        saving.load_model(path)
    assert not marker.exists()


def test_weights_that_do_not_fit_the_config_are_named_by_path(saved, tmp_path):
    parts = members(saved)
    with np.load(io.BytesIO(parts["model.weights.npz"])) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["layers/dense/vars/0"] = np.zeros((4, 9), "float32")
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    parts["model.weights.npz"] = buffer.getvalue()
    path = write_archive(tmp_path / "shape.keras", parts)
    with pytest.raises(saving.WeightsMismatchError) as info:
        saving.load_model(path)
    message = str(info.value)
    assert str(path) in message and "layers/dense/vars/0" in message
    assert "(4, 9)" in message and "(4, 8)" in message


def test_from_config_failure_names_the_file_and_class(saved, tmp_path):
    parts = members(saved)
    config = json.loads(parts["config.json"])
    config["config"]["layers"][1]["config"]["units"] = "many"
    parts["config.json"] = json.dumps(config).encode()
    path = write_archive(tmp_path / "units.keras", parts)
    with pytest.raises(Exception) as info:
        saving.load_model(path)
    message = str(info.value)
    assert str(path) in message and "Functional" in message and "units" in message
