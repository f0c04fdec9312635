"""`gk.losses`: Loss classes, their per-sample functions, and `get`/`serialize`."""

from graphkit.losses.loss import Loss, reduce_weighted_values
from graphkit.losses.losses import (ALL_CLASSES, ALL_FUNCTIONS, BinaryCrossentropy,
                                    CategoricalCrossentropy, Huber, KLDivergence,
                                    LossFunctionWrapper, MeanAbsoluteError, MeanSquaredError,
                                    SparseCategoricalCrossentropy, binary_crossentropy,
                                    categorical_crossentropy, huber, kl_divergence,
                                    mean_absolute_error, mean_squared_error,
                                    sparse_categorical_crossentropy)
from graphkit.utils.registry import CallableRegistry

mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
kld = KLD = kullback_leibler_divergence = kl_divergence

# Class names give classes, function names and aliases ("mse") give functions.
REGISTRY = CallableRegistry("loss", "graphkit.losses", {
    **ALL_FUNCTIONS, **{cls.__name__: cls for cls in ALL_CLASSES},
    "LossFunctionWrapper": LossFunctionWrapper}, base_class=Loss, example='mse')


serialize = REGISTRY.serialize
deserialize = REGISTRY.deserialize
get = REGISTRY.get
