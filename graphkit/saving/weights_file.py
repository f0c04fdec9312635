"""`save_weights` / `load_weights`: a model's variables alone, in an `.npz` file.

The file maps walk paths (`layers/dense/vars/0`, `optimizer/vars/1`, ...; see
variable_store) to arrays, plus one `__graphkit_metadata__` entry: the metadata JSON as a
string array (strings, unlike Python objects, load without pickle). The model's
architecture is not in the file: the model that loads it is built in code.
"""
import json
import os

import numpy as np

from graphkit.saving import archive, atomic_file, file_reading, variable_store
from graphkit.saving.errors import SavedFileError

SUFFIX = ".weights.npz"
METADATA_KEY = "__graphkit_metadata__"


def save_weights(model, filepath, overwrite=True):
    """Write every variable of `model` (optimizer state included) to `filepath`."""
    filepath = os.fspath(filepath)
    if not filepath.endswith(SUFFIX):
        raise ValueError(f"save_weights: the file name must end with '{SUFFIX}', received "
                         f"'{filepath}'. Use model.save('m.keras') to save the whole model.")
    atomic_file.check_target(filepath, overwrite, "weights")
    _check_built(model, "save_weights")
    arrays = variable_store.collect_state(model)
    arrays[METADATA_KEY] = np.array(json.dumps(archive.metadata_dict()))
    data = archive.npz_bytes(arrays)
    atomic_file.write_atomically(filepath, lambda f: f.write(data))


def load_weights(model, filepath, skip_mismatch=False):
    """Assign the variables saved in a `.weights.npz` (or a `.keras`) file to `model`.

    Counts and shapes are checked per variable and mismatches are named by path; with
    `skip_mismatch=True` the mismatched ones are skipped with a warning instead.
    """
    path = file_reading.check_readable(filepath, (SUFFIX, ".keras"), "weights file")
    _check_built(model, "load_weights")
    if path.endswith(".keras"):
        _, _, arrays = archive.read_archive(path)
        source = f"{path}: {archive.WEIGHTS}"
    else:
        arrays = file_reading.read_npz(path, path, "")
        _check_metadata(path, arrays.pop(METADATA_KEY, None))
        source = path
    variable_store.restore_state(model, arrays, source, skip_mismatch=skip_mismatch)


def _check_metadata(path, entry):
    if entry is None:
        raise SavedFileError(path, METADATA_KEY, "the file has no graphkit metadata entry; "
                             "it was not written by model.save_weights",
                             file_reading.RESAVE)
    try:
        metadata = json.loads(str(entry))
    except json.JSONDecodeError as e:
        raise SavedFileError(path, METADATA_KEY, f"not valid JSON ({e})",
                             file_reading.RESAVE) from None
    if not isinstance(metadata, dict):
        raise SavedFileError(path, METADATA_KEY, "expected a JSON object",
                             file_reading.RESAVE)
    file_reading.check_format_version(path, METADATA_KEY, metadata,
                                      archive.SUPPORTED_FORMAT_VERSIONS)


def _check_built(model, method):
    if not getattr(model, "built", True):
        raise ValueError(f"{method}: model '{model.name}' is not built yet, so it has no "
                         "variables. Build it first: call it on data, call model.build("
                         "input_shape), or give it an Input.")
