"""Hinge metrics: running means of the hinge loss functions."""
from graphkit.losses import losses
from graphkit.metrics.reduction_metrics import FixedFunctionMean


class Hinge(FixedFunctionMean):
    def __init__(self, name="hinge", dtype=None):
        super().__init__(losses.hinge, name, dtype)


class SquaredHinge(FixedFunctionMean):
    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(losses.squared_hinge, name, dtype)


class CategoricalHinge(FixedFunctionMean):
    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(losses.categorical_hinge, name, dtype)
