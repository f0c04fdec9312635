"""`gk.optimizers.schedules`: learning rates as functions of the optimizer step."""
from graphkit.optimizers.schedules.learning_rate_schedule import (
    CosineDecay, CosineDecayRestarts, ExponentialDecay, InverseTimeDecay,
    LearningRateSchedule, PiecewiseConstantDecay, PolynomialDecay, deserialize, get,
    serialize)
