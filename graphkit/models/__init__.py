"""`gk.models`: Model, Functional, Sequential, and model-level utilities."""
from graphkit.models.model import Model
from graphkit.models.functional import Functional
from graphkit.models.sequential import Sequential
from graphkit.models.cloning import clone_model
from graphkit.models.serialization import model_from_json
from graphkit.saving.archive import load_model
