"""The training loop behind `gk.Model`: compile, fit, evaluate, predict, and the data
adapters that feed them."""
from graphkit.trainers.trainer import Trainer
