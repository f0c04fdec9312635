"""`ModelCheckpoint`: save the model (`.keras`) or its weights (`.weights.npz`) during `fit`,
every epoch or every `save_freq` batches, optionally only when the monitor improves.

The file path may hold format fields: `{epoch}`, `{batch}` and any log key
(`"ckpt-{epoch:02d}-{val_loss:.2f}.keras"`).
"""
import os
import warnings

from graphkit.callbacks.callback import Callback
from graphkit.callbacks.monitor import monitor_direction


class ModelCheckpoint(Callback):
    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__()
        self.filepath = os.fspath(filepath)
        if save_weights_only and not self.filepath.endswith(".weights.npz"):
            raise ValueError("ModelCheckpoint: with save_weights_only=True the filepath must "
                             "end in '.weights.npz' (graphkit's weights format), received "
                             f"filepath={self.filepath!r}")
        if not save_weights_only and not self.filepath.endswith(".keras"):
            raise ValueError("ModelCheckpoint: the filepath must end in '.keras' (the model "
                             f"format), received filepath={self.filepath!r}")
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError("ModelCheckpoint: `save_freq` must be 'epoch' or a positive "
                             f"integer (a number of batches), received {save_freq!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError("ModelCheckpoint: `mode` must be 'auto', 'min' or 'max', "
                             f"received {mode!r}")
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.mode = mode
        self.save_freq = save_freq
        self.best = initial_value_threshold
        self._direction = None
        self._current_epoch = 0
        self._batches_since_save = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._current_epoch, batch, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs or {})

    def _file_path(self, epoch, batch, logs):
        fields = dict(logs)
        fields["epoch"] = epoch + 1
        if batch is not None and "batch" not in logs:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint: the filepath {self.filepath!r} names {e} "
                           f"which is not in the logs (available: {sorted(fields)})") from None

    def _improved(self, current):
        if self._direction is None:
            self._direction = monitor_direction(self.monitor, self.mode, self.model,
                                                "ModelCheckpoint")
        if self.best is None:
            return True
        return current < self.best if self._direction == "min" else current > self.best

    def _save(self, epoch, batch, logs):
        filepath = self._file_path(epoch, batch, logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"ModelCheckpoint: can save the best model only with "
                              f"{self.monitor!r} in the logs, skipping", stacklevel=3)
                return
            if not self._improved(current):
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from "
                          f"{self.best:.5f}")
                return
            if self.verbose > 0:
                previous = "inf" if self.best is None else f"{self.best:.5f}"
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {previous} to "
                      f"{current:.5f}, saving model to {filepath}")
            self.best = current
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
        dirname = os.path.dirname(filepath)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath)
        else:
            self.model.save(filepath)
