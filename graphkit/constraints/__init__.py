"""`gk.constraints`: MaxNorm, NonNeg, UnitNorm, MinMaxNorm, by class or by snake_case name."""
from graphkit.constraints.constraints import Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm
from graphkit.naming import to_snake_case
from graphkit.utils.registry import ObjectRegistry

_CLASSES = (Constraint, MaxNorm, NonNeg, UnitNorm, MinMaxNorm)
ALL_OBJECTS_DICT = {**{c.__name__: c for c in _CLASSES},
                    **{to_snake_case(c.__name__): c for c in _CLASSES}}
_REGISTRY = ObjectRegistry("constraint", "graphkit.constraints", ALL_OBJECTS_DICT)

# Keras's lower-case names for the classes.
max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm


def serialize(constraint):
    return _REGISTRY.serialize(constraint)


def deserialize(config, custom_objects=None):
    return _REGISTRY.deserialize(config, custom_objects)


def get(identifier):
    """A constraint from a name, a config dict, an instance, a class or a callable."""
    return _REGISTRY.get(identifier)
