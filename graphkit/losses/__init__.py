"""`gk.losses`: Loss classes, their per-sample functions, and `get`/`serialize`."""

from graphkit.losses.loss import Loss, reduce_weighted_values
from graphkit.losses.losses import (ALL_CLASSES, ALL_FUNCTIONS, BinaryCrossentropy,
                                    BinaryFocalCrossentropy, CategoricalCrossentropy,
                                    CategoricalFocalCrossentropy,
                                    CategoricalGeneralizedCrossEntropy, CategoricalHinge, Circle,
                                    CosineSimilarity, Dice, Hinge, Huber, KLDivergence,
                                    LogCosh, LossFunctionWrapper, MeanAbsoluteError,
                                    MeanAbsolutePercentageError, MeanSquaredError,
                                    MeanSquaredLogarithmicError, Poisson,
                                    SparseCategoricalCrossentropy, SquaredHinge, Tversky,
                                    binary_crossentropy, binary_focal_crossentropy,
                                    categorical_crossentropy, categorical_focal_crossentropy,
                                    categorical_generalized_cross_entropy, categorical_hinge,
                                    circle, cosine_similarity, dice, hinge, huber,
                                    kl_divergence, log_cosh, mean_absolute_error,
                                    mean_absolute_percentage_error, mean_squared_error,
                                    mean_squared_logarithmic_error, poisson,
                                    sparse_categorical_crossentropy, squared_hinge, tversky)
from graphkit.utils.registry import CallableRegistry

mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
kld = KLD = kullback_leibler_divergence = kl_divergence
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
bce = BCE = binary_crossentropy
logcosh = log_cosh

# Class names give classes, function names and aliases ("mse") give functions.
REGISTRY = CallableRegistry("loss", "graphkit.losses", {
    **ALL_FUNCTIONS, **{cls.__name__: cls for cls in ALL_CLASSES},
    "LossFunctionWrapper": LossFunctionWrapper}, base_class=Loss, example='mse')


serialize = REGISTRY.serialize
deserialize = REGISTRY.deserialize
get = REGISTRY.get
