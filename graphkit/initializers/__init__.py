"""`gk.initializers`: Keras 3's initializers, by class or by (snake_case) name.

    gk.initializers.get("glorot_uniform")(shape=(3, 4), dtype="float32")
"""
from graphkit.initializers.constant_initializers import Constant, Identity, Ones, Zeros
from graphkit.initializers.initializer import Initializer
from graphkit.initializers.random_initializers import (GlorotNormal, GlorotUniform, HeNormal,
                                                       HeUniform, LecunNormal, LecunUniform,
                                                       Orthogonal, RandomInitializer,
                                                       RandomNormal, RandomUniform,
                                                       TruncatedNormal, VarianceScaling,
                                                       compute_fans)
from graphkit.naming import to_snake_case
from graphkit.utils.registry import ObjectRegistry

_CLASSES = (Initializer, Constant, Zeros, Ones, Identity, RandomNormal, RandomUniform,
            TruncatedNormal, VarianceScaling, GlorotUniform, GlorotNormal, HeUniform, HeNormal,
            LecunNormal, LecunUniform, Orthogonal)
_ALIASES = {"IdentityInitializer": Identity, "OrthogonalInitializer": Orthogonal,
            "one": Ones, "zero": Zeros, "uniform": RandomUniform, "normal": RandomNormal}
ALL_OBJECTS_DICT = {**{c.__name__: c for c in _CLASSES},
                    **{to_snake_case(c.__name__): c for c in _CLASSES}, **_ALIASES}
_REGISTRY = ObjectRegistry("initializer", "graphkit.initializers", ALL_OBJECTS_DICT)

# Keras's lower-case names for the classes.
constant, zeros, ones, identity = Constant, Zeros, Ones, Identity
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
variance_scaling, orthogonal = VarianceScaling, Orthogonal
# Keras's class names for the same classes (so configs keep one class_name per class).
IdentityInitializer, OrthogonalInitializer = Identity, Orthogonal
glorot_uniform, glorot_normal = GlorotUniform, GlorotNormal
he_uniform, he_normal, lecun_uniform, lecun_normal = HeUniform, HeNormal, LecunUniform, LecunNormal


def serialize(initializer):
    return _REGISTRY.serialize(initializer)


def deserialize(config, custom_objects=None):
    return _REGISTRY.deserialize(config, custom_objects)


def get(identifier):
    """An initializer from a name, a config dict, an instance, a class or a callable."""
    return _REGISTRY.get(identifier)
