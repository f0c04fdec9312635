"""`gk.optimizers`: SGD, Adam, AdamW, RMSprop, Adagrad, Adamax, Nadam, Adadelta, Lion, Ftrl,
Lamb, Adafactor, Muon, LossScaleOptimizer and learning-rate schedules."""
from graphkit.optimizers import schedules
from graphkit.optimizers.adadelta import Adadelta
from graphkit.optimizers.adafactor import Adafactor
from graphkit.optimizers.adagrad import Adagrad
from graphkit.optimizers.adam import Adam
from graphkit.optimizers.adamax import Adamax
from graphkit.optimizers.adamw import AdamW
from graphkit.optimizers.ftrl import Ftrl
from graphkit.optimizers.lamb import Lamb
from graphkit.optimizers.lion import Lion
from graphkit.optimizers.loss_scale_optimizer import LossScaleOptimizer
from graphkit.optimizers.muon import Muon
from graphkit.optimizers.nadam import Nadam
from graphkit.optimizers.optimizer import Optimizer
from graphkit.optimizers.rmsprop import RMSprop
from graphkit.optimizers.sgd import SGD
from graphkit.utils.registry import ObjectRegistry

ALL_OBJECTS = (SGD, Adam, AdamW, RMSprop, Adagrad, Adamax, Nadam, Adadelta, Lion, Ftrl,
               Lamb, Adafactor, Muon)
# Class names and their lower-case forms ("Adam", "adam"), as Keras accepts both.
# LossScaleOptimizer wraps another optimizer: it has a class name for configs, no string
# identifier (it cannot be made from a name alone).
REGISTRY = ObjectRegistry("optimizer", "graphkit.optimizers", {
    **{cls.__name__: cls for cls in ALL_OBJECTS + (LossScaleOptimizer,)},
    **{cls.__name__.lower(): cls for cls in ALL_OBJECTS}})


def serialize(optimizer):
    return REGISTRY.serialize(optimizer)


def deserialize(config, custom_objects=None):
    """An optimizer from `{"class_name": "Adam", "config": {...}}` or a name."""
    return REGISTRY.deserialize(config, custom_objects)


def get(identifier):
    """An Optimizer from an instance, a name ("adam", "Adam") or a config dict."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r} (expected "
                     "an Optimizer, a name such as 'adam', or a config dict)")
