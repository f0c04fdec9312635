"""`gk.layers`: the Layer base class, InputSpec, Input/InputLayer and the built-in layers.

Names are imported on first use (as in `graphkit/__init__.py`), so importing one module of
the package, such as `graphkit.layers.input_spec`, does not import every layer, and the
base class never depends on the layers built on it.
"""
import importlib

# name -> module that defines it
_NAMES = {
    "Layer": "graphkit.layers.layer",
    "InputSpec": "graphkit.layers.input_spec",
    "Input": "graphkit.layers.core.input_layer",
    "InputLayer": "graphkit.layers.core.input_layer",
    # core
    "Activation": "graphkit.layers.core.activation",
    "Dense": "graphkit.layers.core.dense",
    "EinsumDense": "graphkit.layers.core.einsum_dense",
    "Embedding": "graphkit.layers.core.embedding",
    "Lambda": "graphkit.layers.core.lambda_layer",
    "Masking": "graphkit.layers.core.masking",
    # regularization
    "Dropout": "graphkit.layers.regularization.dropout",
    "ActivityRegularization": "graphkit.layers.regularization.activity_regularization",
    # normalization
    "BatchNormalization": "graphkit.layers.normalization.batch_normalization",
    "LayerNormalization": "graphkit.layers.normalization.layer_normalization",
    # reshaping
    "Flatten": "graphkit.layers.reshaping.flatten",
    "Reshape": "graphkit.layers.reshaping.reshape",
    "Permute": "graphkit.layers.reshaping.permute",
    "RepeatVector": "graphkit.layers.reshaping.repeat_vector",
    # merging (classes and Keras's functional forms)
    "Add": "graphkit.layers.merging.add",
    "add": "graphkit.layers.merging.add",
    "Subtract": "graphkit.layers.merging.subtract",
    "subtract": "graphkit.layers.merging.subtract",
    "Multiply": "graphkit.layers.merging.multiply",
    "multiply": "graphkit.layers.merging.multiply",
    "Average": "graphkit.layers.merging.average",
    "average": "graphkit.layers.merging.average",
    "Concatenate": "graphkit.layers.merging.concatenate",
    "concatenate": "graphkit.layers.merging.concatenate",
}

__all__ = sorted(_NAMES)


def __getattr__(name):
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'graphkit.layers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_NAMES))
