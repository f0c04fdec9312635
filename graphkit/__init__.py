"""graphkit: a Keras-3-style deep-learning framework with an IR and an LLVM compiler inside.

    import graphkit as gk
    from graphkit import layers, ops

Sub-packages and the top-level names are imported on first use, so `import graphkit` stays
fast and a part that fails to import only breaks the names that need it.
"""
import importlib

__version__ = "0.1.0"

_SUBPACKAGES = (
    "ops", "layers", "models", "optimizers", "losses", "metrics", "initializers",
    "regularizers", "constraints", "activations", "callbacks", "random", "saving",
    "datasets", "utils", "config", "debugging", "ir", "codegen", "compiler", "dtypes", "tree",
    "mixed_precision",
)

# name -> (module, attribute)
_NAMES = {
    "Tensor": ("graphkit.core.tensor", "Tensor"),
    "Variable": ("graphkit.core.variable", "Variable"),
    "GradientTape": ("graphkit.core.tape", "GradientTape"),
    "value_and_grad": ("graphkit.core.tape", "value_and_grad"),
    "KerasTensor": ("graphkit.core.keras_tensor", "KerasTensor"),
    "Layer": ("graphkit.layers.layer", "Layer"),
    "InputSpec": ("graphkit.layers.input_spec", "InputSpec"),
    "DTypePolicy": ("graphkit.layers.dtype_policy", "DTypePolicy"),
    "Input": ("graphkit.layers.core.input_layer", "Input"),
    "Model": ("graphkit.models.model", "Model"),
    "Sequential": ("graphkit.models.sequential", "Sequential"),
    "jit": ("graphkit.compiler.jit", "jit"),
}

__all__ = sorted(_SUBPACKAGES + tuple(_NAMES))


def __getattr__(name):
    if name in _NAMES:
        module, attr = _NAMES[name]
        value = getattr(importlib.import_module(module), attr)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f"graphkit.{name}")
    else:
        raise AttributeError(f"module 'graphkit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return __all__
