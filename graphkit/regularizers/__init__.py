"""`gk.regularizers`: L1, L2, L1L2 and OrthogonalRegularizer, by class or by name (`"l1"`,
`"l2"`, `"l1_l2"`, `"orthogonal_regularizer"`)."""
from graphkit.naming import to_snake_case
from graphkit.regularizers.regularizers import (L1, L1L2, L2, OrthogonalRegularizer,
                                               Regularizer)
from graphkit.utils.registry import ObjectRegistry

_CLASSES = (Regularizer, L1, L2, L1L2, OrthogonalRegularizer)
ALL_OBJECTS_DICT = {**{c.__name__: c for c in _CLASSES},
                    **{to_snake_case(c.__name__): c for c in _CLASSES},
                    "l1": L1, "l2": L2, "l1_l2": L1L2}
_REGISTRY = ObjectRegistry("regularizer", "graphkit.regularizers", ALL_OBJECTS_DICT)

# Keras's lower-case names for the classes.
l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer


def serialize(regularizer):
    return _REGISTRY.serialize(regularizer)


def deserialize(config, custom_objects=None):
    return _REGISTRY.deserialize(config, custom_objects)


def get(identifier):
    """A regularizer from a name, a config dict, an instance, a class or a callable."""
    return _REGISTRY.get(identifier)
