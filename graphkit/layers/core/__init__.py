"""Core layers: Dense, EinsumDense, Activation, Embedding, Lambda, Masking, and InputLayer
(input_layer.py). Imported on first use, like `graphkit.layers`."""
import importlib

_NAMES = {
    "Activation": "graphkit.layers.core.activation",
    "Dense": "graphkit.layers.core.dense",
    "EinsumDense": "graphkit.layers.core.einsum_dense",
    "Embedding": "graphkit.layers.core.embedding",
    "Lambda": "graphkit.layers.core.lambda_layer",
    "Masking": "graphkit.layers.core.masking",
    "Input": "graphkit.layers.core.input_layer",
    "InputLayer": "graphkit.layers.core.input_layer",
}

__all__ = sorted(_NAMES)


def __getattr__(name):
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'graphkit.layers.core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_NAMES))
