"""The `.keras` file: a zip archive holding a whole model.

    metadata.json       {"graphkit_version", "format_version", "date_saved"}
    config.json         serialize_keras_object(model): the architecture, the build config
                        and the compile config (optimizer, loss, metrics)
    model.weights.npz   every variable, keyed by its walk path (see variable_store), the
                        optimizer's slots and step count and the SeedGenerator states included

`load_model` rebuilds the architecture, compiles it as it was, and restores every variable,
so `fit` continues exactly where it stopped. Nothing in the file is executed: the configs
are JSON, the arrays are read without pickle, and classes are only looked up by name.
"""
import datetime
import io
import json
import zipfile

import numpy as np

from graphkit.saving import atomic_file, file_reading, variable_store
from graphkit.saving.errors import SavedFileError, UnknownObjectError, with_file_context
from graphkit.saving.serialization import deserialize_keras_object, serialize_keras_object

FORMAT_VERSION = 1
SUPPORTED_FORMAT_VERSIONS = frozenset({1})
CONFIG = "config.json"
METADATA = "metadata.json"
WEIGHTS = "model.weights.npz"

_OTHER_FORMATS = (
    (".weights.npz", "this is a weights file, which holds no architecture. Build the model "
                     "in code and call model.load_weights(path) instead."),
    (".h5", "graphkit does not read HDF5 files. Save the model with model.save('m.keras')."),
    (".hdf5", "graphkit does not read HDF5 files. Save the model with model.save('m.keras')."),
)


def metadata_dict():
    from graphkit import __version__
    return {"graphkit_version": __version__, "format_version": FORMAT_VERSION,
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}


# -- save -------------------------------------------------------------------------------------------

def save_model(model, filepath, overwrite=True):
    """Write `model` to a `.keras` file, atomically (an older file survives a failed save)."""
    import os
    filepath = os.fspath(filepath)
    if not filepath.endswith(".keras"):
        raise ValueError(f"save_model: the file name must end with '.keras', received "
                         f"'{filepath}'. Use model.save_weights('x.weights.npz') to save "
                         "only the weights.")
    atomic_file.check_target(filepath, overwrite, "model")
    # Everything is gathered before the file is opened: a model that cannot be serialized
    # fails here, before any byte is written.
    config_json = _config_json(model)
    weights = npz_bytes(variable_store.collect_state(model))
    metadata_json = json.dumps(metadata_dict(), indent=2)

    def write(f):
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(METADATA, metadata_json)
            archive.writestr(CONFIG, config_json)
            archive.writestr(WEIGHTS, weights, compress_type=zipfile.ZIP_STORED)

    atomic_file.write_atomically(filepath, write)


def _config_json(model):
    config = serialize_keras_object(model)
    try:
        return json.dumps(config, indent=2)
    except (TypeError, ValueError) as e:
        raise TypeError(f"save_model: the config of model '{model.name}' is not JSON "
                        f"serializable ({e}). A layer's get_config() returned a value that "
                        "is not a number, string, list or dict.") from e


def npz_bytes(arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


# -- load -------------------------------------------------------------------------------------------

def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """The model saved in a `.keras` file, with its weights and (if `compile`) its compile
    state and optimizer state. `custom_objects` maps class names to custom classes."""
    path = file_reading.check_readable(filepath, (".keras",), "model", _OTHER_FORMATS)
    metadata, config, arrays = read_archive(path)
    if not compile:
        config = {k: v for k, v in config.items() if k != "compile_config"}
    try:
        model = deserialize_keras_object(config, custom_objects=custom_objects,
                                         safe_mode=safe_mode)
    except UnknownObjectError as e:
        raise UnknownObjectError(f"Cannot load '{path}': {CONFIG}: {e}") from None
    except SavedFileError:
        raise
    except Exception as e:
        raise with_file_context(e, path, f"{CONFIG}, rebuilding class "
                                         f"'{config.get('class_name')}'") from e
    if not compile and getattr(model, "optimizer", None) is not None:
        arrays = {k: v for k, v in arrays.items() if not k.startswith("optimizer/")}
    if "compile_config" in config and not getattr(model, "compiled", False):
        # A custom compile() was not replayed (Trainer.compile_from_config warns): the state
        # it made (a GAN's two optimizers, say) has no object to go to and is left out.
        claimed = variable_store.claimed_keys(model, arrays)
        arrays = {k: v for k, v in arrays.items() if k in claimed}
    variable_store.restore_state(model, arrays, f"{path}: {WEIGHTS}")
    return model


def read_archive(path):
    """(metadata, config, arrays) from a .keras file, each part checked."""
    with file_reading.open_zip(path, "graphkit .keras model") as archive:
        metadata = file_reading.parse_json(
            path, METADATA, file_reading.read_member(archive, path, METADATA))
        file_reading.check_format_version(path, METADATA, metadata,
                                          SUPPORTED_FORMAT_VERSIONS)
        config = file_reading.parse_json(
            path, CONFIG, file_reading.read_member(archive, path, CONFIG))
        for field in ("class_name", "config"):
            if field not in config:
                raise SavedFileError(path, f"{CONFIG}: {field}",
                                     f"the model config has no '{field}' field",
                                     file_reading.RESAVE)
        arrays = file_reading.read_npz(file_reading.read_member(archive, path, WEIGHTS),
                                       path, WEIGHTS)
    return metadata, config, arrays
