"""`gk.metrics`: stateful metrics (Mean, accuracies, AUC, ...) and their functions.

`huber` and the focal cross-entropies are here as in `keras.metrics` (the loss functions),
but, as in Keras, not among the string names."""

from graphkit.losses.losses import (binary_crossentropy, binary_focal_crossentropy,
                                    categorical_crossentropy, categorical_focal_crossentropy,
                                    categorical_hinge, hinge, huber, kl_divergence, log_cosh,
                                    mean_absolute_error, mean_absolute_percentage_error,
                                    mean_squared_error, mean_squared_logarithmic_error,
                                    poisson, sparse_categorical_crossentropy, squared_hinge)
from graphkit.metrics.accuracy_metrics import (Accuracy, BinaryAccuracy, CategoricalAccuracy,
                                               SparseCategoricalAccuracy,
                                               SparseTopKCategoricalAccuracy,
                                               TopKCategoricalAccuracy, accuracy,
                                               binary_accuracy, categorical_accuracy,
                                               sparse_categorical_accuracy,
                                               sparse_top_k_categorical_accuracy,
                                               top_k_categorical_accuracy)
from graphkit.metrics.confusion_metrics import (AUC, FalseNegatives, FalsePositives,
                                                Precision, PrecisionAtRecall, Recall,
                                                RecallAtPrecision, SensitivityAtSpecificity,
                                                SpecificityAtSensitivity, TrueNegatives,
                                                TruePositives)
from graphkit.metrics.correlation_metrics import (ConcordanceCorrelation, PearsonCorrelation,
                                                  concordance_correlation,
                                                  pearson_correlation)
from graphkit.metrics.f_score_metrics import F1Score, FBetaScore
from graphkit.metrics.hinge_metrics import CategoricalHinge, Hinge, SquaredHinge
from graphkit.metrics.iou_metrics import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from graphkit.metrics.metric import Metric
from graphkit.metrics.probabilistic_metrics import (BinaryCrossentropy,
                                                    CategoricalCrossentropy, KLDivergence,
                                                    Poisson, SparseCategoricalCrossentropy)
from graphkit.metrics.reduction_metrics import FixedFunctionMean, Mean, MeanMetricWrapper, Sum
from graphkit.metrics.regression_metrics import (CosineSimilarity, LogCoshError,
                                                 MeanAbsoluteError,
                                                 MeanAbsolutePercentageError,
                                                 MeanSquaredError,
                                                 MeanSquaredLogarithmicError, R2Score,
                                                 RootMeanSquaredError, cosine_similarity)
from graphkit.utils.registry import CallableRegistry

mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kl_divergence
bce = BCE = binary_crossentropy
logcosh = log_cosh

ALL_CLASSES = (Mean, Sum, MeanSquaredError, MeanAbsoluteError, Accuracy, BinaryAccuracy,
               CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
               SparseTopKCategoricalAccuracy, AUC, Precision, Recall, TruePositives,
               FalsePositives, TrueNegatives, FalseNegatives, MeanAbsolutePercentageError,
               MeanSquaredLogarithmicError, RootMeanSquaredError, LogCoshError,
               CosineSimilarity, R2Score, BinaryCrossentropy, CategoricalCrossentropy,
               SparseCategoricalCrossentropy, KLDivergence, Poisson, Hinge, SquaredHinge,
               CategoricalHinge, F1Score, FBetaScore, PearsonCorrelation, IoU, BinaryIoU,
               MeanIoU, OneHotIoU, OneHotMeanIoU, PrecisionAtRecall, RecallAtPrecision,
               SensitivityAtSpecificity, SpecificityAtSensitivity, ConcordanceCorrelation)
ALL_FUNCTIONS = {
    "accuracy": accuracy, "binary_accuracy": binary_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "top_k_categorical_accuracy": top_k_categorical_accuracy,
    "sparse_top_k_categorical_accuracy": sparse_top_k_categorical_accuracy,
    "mean_squared_error": mean_squared_error, "mse": mean_squared_error,
    "mean_absolute_error": mean_absolute_error, "mae": mean_absolute_error,
    "mean_absolute_percentage_error": mean_absolute_percentage_error,
    "mape": mean_absolute_percentage_error, "MAPE": mean_absolute_percentage_error,
    "mean_squared_logarithmic_error": mean_squared_logarithmic_error,
    "msle": mean_squared_logarithmic_error, "MSLE": mean_squared_logarithmic_error,
    "log_cosh": log_cosh, "logcosh": log_cosh,
    "kl_divergence": kl_divergence, "kld": kl_divergence, "KLD": kl_divergence,
    "poisson": poisson,
    "hinge": hinge, "squared_hinge": squared_hinge, "categorical_hinge": categorical_hinge,
    "binary_crossentropy": binary_crossentropy, "bce": binary_crossentropy,
    "BCE": binary_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
}
# Snake-case names of the stateful metrics without a function form ("auc", "precision"),
# and of those whose function is not a loss, so that the name gives a metric that knows it
# goes up ("cosine_similarity": the metric is the loss's negation).
_SNAKE = {"auc": AUC, "precision": Precision, "recall": Recall, "mean": Mean, "sum": Sum,
          "true_positives": TruePositives, "false_positives": FalsePositives,
          "true_negatives": TrueNegatives, "false_negatives": FalseNegatives,
          "root_mean_squared_error": RootMeanSquaredError, "log_cosh_error": LogCoshError,
          "r2_score": R2Score, "cosine_similarity": CosineSimilarity,
          "f1_score": F1Score, "fbeta_score": FBetaScore,
          "pearson_correlation": PearsonCorrelation,
          "concordance_correlation": ConcordanceCorrelation,
          # These need their target rate, so (as in Keras) the names serve configs only.
          "precision_at_recall": PrecisionAtRecall, "recall_at_precision": RecallAtPrecision,
          "sensitivity_at_specificity": SensitivityAtSpecificity,
          "specificity_at_sensitivity": SpecificityAtSensitivity}
REGISTRY = CallableRegistry("metric", "graphkit.metrics", {
    **ALL_FUNCTIONS, **{cls.__name__: cls for cls in ALL_CLASSES}, **_SNAKE}, base_class=Metric, example='accuracy')


serialize = REGISTRY.serialize
deserialize = REGISTRY.deserialize
get = REGISTRY.get
