"""`gk.losses`: Loss classes, their per-sample functions, and `get`/`serialize`."""
import inspect

from graphkit.losses.loss import Loss, reduce_weighted_values
from graphkit.losses.losses import (ALL_CLASSES, ALL_FUNCTIONS, BinaryCrossentropy,
                                    CategoricalCrossentropy, Huber, KLDivergence,
                                    LossFunctionWrapper, MeanAbsoluteError, MeanSquaredError,
                                    SparseCategoricalCrossentropy, binary_crossentropy,
                                    categorical_crossentropy, huber, kl_divergence,
                                    mean_absolute_error, mean_squared_error,
                                    sparse_categorical_crossentropy)
from graphkit.utils.registry import ObjectRegistry

mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
kld = KLD = kullback_leibler_divergence = kl_divergence

# Class names give classes, function names and aliases ("mse") give functions.
REGISTRY = ObjectRegistry("loss", "graphkit.losses", {
    **ALL_FUNCTIONS, **{cls.__name__: cls for cls in ALL_CLASSES},
    "LossFunctionWrapper": LossFunctionWrapper})


def serialize(loss):
    if inspect.isfunction(loss):
        return loss.__name__
    return REGISTRY.serialize(loss)


def deserialize(config, custom_objects=None):
    if isinstance(config, str):
        obj = REGISTRY.lookup(config, custom_objects)
        return obj() if inspect.isclass(obj) else obj
    return REGISTRY.deserialize(config, custom_objects)


def get(identifier):
    """A loss from a Loss instance, a function, a name ("mse", "MeanSquaredError") or a
    config dict. Class names give a new instance; function names give the function."""
    if identifier is None:
        return None
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if inspect.isclass(identifier) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret loss identifier: {identifier!r} (expected a Loss, "
                     "a function, a name such as 'mse', or a config dict)")
