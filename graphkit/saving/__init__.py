"""`gk.saving`: whole models (`.keras`), weights (`.weights.npz`), configs and registration."""
from graphkit.saving.archive import load_model, save_model
from graphkit.saving.errors import SavedFileError, UnknownObjectError
from graphkit.saving.registration import (CustomObjectScope, custom_object_scope,
                                          get_custom_objects, get_registered_name,
                                          get_registered_object, register_keras_serializable)
from graphkit.saving.serialization import (SafeModeScope, deserialize_keras_object,
                                           enable_unsafe_deserialization, in_safe_mode,
                                           serialize_keras_object)
from graphkit.saving.variable_store import WeightsMismatchError
from graphkit.saving.weights_file import load_weights, save_weights
