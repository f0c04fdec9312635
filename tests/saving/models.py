"""Small models and data shared by the saving tests."""
import numpy as np

import graphkit as gk
from graphkit import layers, saving


@saving.register_keras_serializable(package="SavingTests")
class ScaledDense(gk.Layer):
    """A custom layer with its own config, weights and a non-trainable variable."""

    def __init__(self, units, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.scale = scale

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                 initializer="glorot_uniform", name="w")
        self.calls = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                     name="calls")

    def call(self, x):
        return gk.ops.matmul(x, self.w) * self.scale

    def get_config(self):
        return {**super().get_config(), "units": self.units, "scale": self.scale}


@saving.register_keras_serializable(package="SavingTests")
class TwoLayerNet(gk.Model):
    """A subclassed model with sublayers held in attributes."""

    def __init__(self, hidden=6, **kwargs):
        super().__init__(**kwargs)
        self.hidden = hidden
        self.first = layers.Dense(hidden, activation="tanh")
        self.second = layers.Dense(2)

    def call(self, x):
        return self.second(self.first(x))

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden}


def data(n=32, features=4, outputs=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype("float32")
    y = rng.standard_normal((n, outputs)).astype("float32")
    return x, y


def functional_model(dropout=0.25):
    inputs = gk.Input((4,))
    x = layers.Dense(8, activation="relu")(inputs)
    x = layers.Dropout(dropout, seed=7)(x)
    x = ScaledDense(3, scale=0.5)(x)
    outputs = layers.Dense(2)(x)
    return gk.Model(inputs, outputs)


def sequential_model():
    return gk.Sequential([gk.Input((4,)), layers.Dense(5, activation="relu"),
                          layers.BatchNormalization(), layers.Dense(2)])
