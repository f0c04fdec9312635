"""Regularization layers: Dropout, ActivityRegularization."""
from graphkit.layers.regularization.activity_regularization import ActivityRegularization
from graphkit.layers.regularization.dropout import Dropout
