"""`gk.metrics`: stateful metrics (Mean, accuracies, AUC, ...) and their functions."""

from graphkit.losses.losses import mean_absolute_error, mean_squared_error
from graphkit.metrics.accuracy_metrics import (Accuracy, BinaryAccuracy, CategoricalAccuracy,
                                               SparseCategoricalAccuracy,
                                               SparseTopKCategoricalAccuracy,
                                               TopKCategoricalAccuracy, accuracy,
                                               binary_accuracy, categorical_accuracy,
                                               sparse_categorical_accuracy,
                                               sparse_top_k_categorical_accuracy,
                                               top_k_categorical_accuracy)
from graphkit.metrics.confusion_metrics import (AUC, FalseNegatives, FalsePositives,
                                                Precision, Recall, TrueNegatives,
                                                TruePositives)
from graphkit.metrics.metric import Metric
from graphkit.metrics.reduction_metrics import Mean, MeanMetricWrapper, Sum
from graphkit.metrics.regression_metrics import MeanAbsoluteError, MeanSquaredError
from graphkit.utils.registry import CallableRegistry

mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error

ALL_CLASSES = (Mean, Sum, MeanSquaredError, MeanAbsoluteError, Accuracy, BinaryAccuracy,
               CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
               SparseTopKCategoricalAccuracy, AUC, Precision, Recall, TruePositives,
               FalsePositives, TrueNegatives, FalseNegatives)
ALL_FUNCTIONS = {
    "accuracy": accuracy, "binary_accuracy": binary_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "top_k_categorical_accuracy": top_k_categorical_accuracy,
    "sparse_top_k_categorical_accuracy": sparse_top_k_categorical_accuracy,
    "mean_squared_error": mean_squared_error, "mse": mean_squared_error,
    "mean_absolute_error": mean_absolute_error, "mae": mean_absolute_error,
}
# Snake-case names of the stateful metrics without a function form ("auc", "precision").
_SNAKE = {"auc": AUC, "precision": Precision, "recall": Recall, "mean": Mean, "sum": Sum,
          "true_positives": TruePositives, "false_positives": FalsePositives,
          "true_negatives": TrueNegatives, "false_negatives": FalseNegatives}
REGISTRY = CallableRegistry("metric", "graphkit.metrics", {
    **ALL_FUNCTIONS, **{cls.__name__: cls for cls in ALL_CLASSES}, **_SNAKE}, base_class=Metric, example='accuracy')


serialize = REGISTRY.serialize
deserialize = REGISTRY.deserialize
get = REGISTRY.get
