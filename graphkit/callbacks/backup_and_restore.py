"""`BackupAndRestore`: back up the training state during `fit` so that a `fit` interrupted
(by an exception, a killed process, a preempted machine) resumes where it stopped.

The state is the model's weights with the optimizer's state (`latest.weights.npz`, written
by `save_weights`) and `training_metadata.json` ({"epoch": the epoch to start at, "batch":
the last batch seen}). On `on_train_begin` a backup found in `backup_dir` is loaded and `fit`
starts at its epoch (through `model._initial_epoch`, as in Keras). As in Keras, a backup
taken every `save_freq` batches resumes at the start of the epoch it was taken in, with the
weights of that moment.

Every file is written atomically (a temporary file renamed over the old one), so a crash
while saving leaves the previous backup whole. `double_checkpoint=True` also keeps the
previous backup (`*.bkp`) and falls back on it when the latest cannot be read.
"""
import json
import os

from graphkit.callbacks.callback import Callback
from graphkit.saving import atomic_file
from graphkit.saving.errors import SavedFileError

WEIGHTS_FILE = "latest.weights.npz"
METADATA_FILE = "training_metadata.json"
PREVIOUS_SUFFIX = ".bkp"


class BackupAndRestore(Callback):
    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if save_freq != "epoch" and not (isinstance(save_freq, int)
                                         and not isinstance(save_freq, bool)):
            raise ValueError("Invalid value for argument `save_freq`. Received: "
                             f"save_freq={save_freq}. Expected either 'epoch' or an "
                             "integer value.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._weights_path = os.path.join(self.backup_dir, WEIGHTS_FILE)
        self._metadata_path = os.path.join(self.backup_dir, METADATA_FILE)
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0

    # -- restoring ----------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        try:
            self._load_model()
        except (OSError, SavedFileError, json.JSONDecodeError):
            # The latest backup is unreadable: fall back on the previous one, if kept.
            if not os.path.exists(self._weights_path + PREVIOUS_SUFFIX):
                raise
            self._restore_previous_backup()
            self._load_model()

    def _load_model(self):
        if not self.model.built:
            raise ValueError("To use the BackupAndRestore callback, your model must be built "
                             f"before you call `fit()`. Model {self.model} is unbuilt. You "
                             "can build it beforehand by calling it on a batch of data.")
        if os.path.exists(self._weights_path):
            optimizer = self.model.optimizer
            if optimizer is not None and not optimizer.built:
                # The optimizer's slots must exist to receive the saved state.
                optimizer.build(self.model.trainable_variables)
            self.model.load_weights(self._weights_path)
        if os.path.exists(self._metadata_path):
            with open(self._metadata_path, encoding="utf-8") as f:
                self.model._initial_epoch = json.load(f)["epoch"]

    def _restore_previous_backup(self):
        _copy_atomically(self._weights_path + PREVIOUS_SUFFIX, self._weights_path)
        if os.path.exists(self._metadata_path + PREVIOUS_SUFFIX):
            _copy_atomically(self._metadata_path + PREVIOUS_SUFFIX, self._metadata_path)
        elif os.path.exists(self._metadata_path):
            os.remove(self._metadata_path)

    # -- backing up ---------------------------------------------------------------------------
    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._save_model()

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model()

    def _should_save_on_batch(self, batch):
        if self.save_freq == "epoch":
            return False
        if batch <= self._last_batch_seen:  # a new epoch: batches count from 0 again
            added = batch + 1
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint:
            self._keep_previous_backup()
        self.model.save_weights(self._weights_path, overwrite=True)
        metadata = json.dumps({"epoch": self._current_epoch, "batch": self._last_batch_seen})
        atomic_file.write_atomically(self._metadata_path,
                                     lambda f: f.write(metadata.encode("utf-8")))

    def _keep_previous_backup(self):
        for path in (self._weights_path, self._metadata_path):
            if os.path.exists(path):
                _copy_atomically(path, path + PREVIOUS_SUFFIX)

    # -- cleaning up --------------------------------------------------------------------------
    def on_train_end(self, logs=None):
        if self.delete_checkpoint:
            self._delete_backup()

    def _delete_backup(self):
        """Remove this callback's files, then `backup_dir` if that leaves it empty.

        Keras removes the whole `backup_dir`; only the backup's own files are removed here,
        so that a folder shared with other files keeps them."""
        for name in (WEIGHTS_FILE, METADATA_FILE):
            for path in (os.path.join(self.backup_dir, name),
                         os.path.join(self.backup_dir, name + PREVIOUS_SUFFIX)):
                if os.path.exists(path):
                    os.remove(path)
        if os.path.isdir(self.backup_dir) and not os.listdir(self.backup_dir):
            os.rmdir(self.backup_dir)


def _copy_atomically(source, target):
    with open(source, "rb") as f:
        data = f.read()
    atomic_file.write_atomically(target, lambda out: out.write(data))
