"""`LearningRateScheduler`: set the optimizer's learning rate at the start of every epoch
from `schedule(epoch, lr)` (or `schedule(epoch)`)."""
import inspect

import numpy as np

from graphkit.callbacks.callback import Callback


class LearningRateScheduler(Callback):
    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def _call_schedule(self, epoch, lr):
        try:
            n_params = len(inspect.signature(self.schedule).parameters)
        except (TypeError, ValueError):
            n_params = 2
        return self.schedule(epoch, lr) if n_params >= 2 else self.schedule(epoch)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not hasattr(optimizer, "learning_rate"):
            raise ValueError("LearningRateScheduler: the model's optimizer must have a "
                             "`learning_rate` attribute (compile the model first)")
        lr = float(np.asarray(optimizer.learning_rate))
        new_lr = self._call_schedule(epoch, lr)
        try:
            new_lr = float(np.asarray(new_lr))
        except (TypeError, ValueError):
            raise ValueError("LearningRateScheduler: the schedule must return a float, "
                             f"received {new_lr!r}") from None
        optimizer.learning_rate = new_lr
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                  f"{new_lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(np.asarray(self.model.optimizer.learning_rate))
