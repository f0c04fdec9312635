"""BackupAndRestore: a fit interrupted at some epoch, resumed by a second fit, ends with the
weights and optimizer state of an uninterrupted fit."""
import json
import os

import numpy as np
import pytest

import graphkit as gk
from graphkit import layers

EPOCHS = 4


class InterruptAt(gk.callbacks.Callback):
    """Raise at the start of epoch `epoch` (or after batch `batch` of it), like a crash."""

    def __init__(self, epoch, batch=None):
        super().__init__()
        self.epoch, self.batch = epoch, batch
        self._current = None

    def on_epoch_begin(self, epoch, logs=None):
        self._current = epoch
        if epoch == self.epoch and self.batch is None:
            raise RuntimeError("interrupted")

    def on_train_batch_end(self, batch, logs=None):
        if self._current == self.epoch and batch == self.batch:
            raise RuntimeError("interrupted")


class EpochRecorder(gk.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


def make_model(**compile_kwargs):
    gk.utils.set_random_seed(7)
    model = gk.Sequential([gk.Input((3,)), layers.Dense(4, activation="relu"), layers.Dense(1)])
    model.compile(optimizer=gk.optimizers.Adam(0.01), loss="mse", **compile_kwargs)
    return model


def data():
    rng = np.random.default_rng(2)
    return rng.normal(size=(24, 3)).astype("float32"), rng.normal(size=(24, 1)).astype("float32")


def fit(model, callbacks, epochs=EPOCHS):
    x, y = data()
    return model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0,
                     callbacks=callbacks)


def assert_same_state(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)
    for va, vb in zip(a.optimizer.variables, b.optimizer.variables):
        np.testing.assert_allclose(va.numpy(), vb.numpy(), rtol=1e-6, atol=1e-7)


COMPILE = [{"run_eagerly": True}, {"jit_compile": True}]
COMPILE_IDS = ["eager", "compiled"]


@pytest.mark.parametrize("compile_kwargs", COMPILE, ids=COMPILE_IDS)
@pytest.mark.parametrize("same_model", [True, False], ids=["same_model", "new_model"])
def test_interrupted_fit_resumes_to_the_uninterrupted_weights(tmp_path, compile_kwargs,
                                                               same_model):
    straight = make_model(**compile_kwargs)
    fit(straight, [])

    backup_dir = tmp_path / "backup"
    model = make_model(**compile_kwargs)
    with pytest.raises(RuntimeError, match="interrupted"):
        fit(model, [gk.callbacks.BackupAndRestore(backup_dir), InterruptAt(2)])
    with open(backup_dir / "training_metadata.json") as f:
        assert json.load(f) == {"epoch": 2, "batch": 0}

    resumed = model if same_model else make_model(**compile_kwargs)
    recorder = EpochRecorder()
    history = fit(resumed, [gk.callbacks.BackupAndRestore(backup_dir), recorder])
    assert recorder.epochs == [2, 3]
    assert len(history.history["loss"]) == 2
    assert_same_state(straight, resumed)
    assert int(resumed.optimizer.iterations.numpy()) == 3 * EPOCHS
    assert not backup_dir.exists()  # delete_checkpoint=True: removed after a complete fit


def test_a_later_fit_is_not_started_at_the_restored_epoch(tmp_path):
    model = make_model(run_eagerly=True)
    with pytest.raises(RuntimeError):
        fit(model, [gk.callbacks.BackupAndRestore(tmp_path / "b"), InterruptAt(1)])
    fit(model, [gk.callbacks.BackupAndRestore(tmp_path / "b")])
    recorder = EpochRecorder()
    fit(model, [recorder], epochs=2)
    assert recorder.epochs == [0, 1]


def test_without_a_backup_fit_starts_at_initial_epoch(tmp_path):
    recorder = EpochRecorder()
    fit(make_model(run_eagerly=True), [gk.callbacks.BackupAndRestore(tmp_path / "b"), recorder])
    assert recorder.epochs == list(range(EPOCHS))


def test_integer_save_freq_backs_up_every_n_batches(tmp_path):
    backup_dir = tmp_path / "backup"
    model = make_model(run_eagerly=True)
    with pytest.raises(RuntimeError):
        # 3 batches an epoch: backups after the 2nd, 4th and 6th batch (epoch 1's batch 2),
        # then the interruption at that same batch.
        fit(model, [gk.callbacks.BackupAndRestore(backup_dir, save_freq=2),
                    InterruptAt(1, batch=2)])
    with open(backup_dir / "training_metadata.json") as f:
        assert json.load(f) == {"epoch": 1, "batch": 2}
    saved = make_model(run_eagerly=True)
    saved.load_weights(backup_dir / "latest.weights.npz")
    assert int(saved.optimizer.iterations.numpy()) == 6
    # As in Keras, the resumed fit starts the interrupted epoch over, from these weights.
    recorder = EpochRecorder()
    fit(make_model(run_eagerly=True),
        [gk.callbacks.BackupAndRestore(backup_dir, save_freq=2), recorder])
    assert recorder.epochs == [1, 2, 3]


def test_delete_checkpoint_false_keeps_the_backup(tmp_path):
    backup_dir = tmp_path / "backup"
    fit(make_model(run_eagerly=True),
        [gk.callbacks.BackupAndRestore(backup_dir, delete_checkpoint=False)])
    assert sorted(os.listdir(backup_dir)) == ["latest.weights.npz", "training_metadata.json"]
    with open(backup_dir / "training_metadata.json") as f:
        assert json.load(f)["epoch"] == EPOCHS


def test_only_the_backup_files_are_deleted(tmp_path):
    backup_dir = tmp_path / "backup"
    backup_dir.mkdir()
    (backup_dir / "notes.txt").write_text("keep me")
    fit(make_model(run_eagerly=True), [gk.callbacks.BackupAndRestore(backup_dir)])
    assert os.listdir(backup_dir) == ["notes.txt"]


def test_double_checkpoint_falls_back_on_the_previous_backup(tmp_path):
    backup_dir = tmp_path / "backup"
    model = make_model(run_eagerly=True)
    with pytest.raises(RuntimeError):
        fit(model, [gk.callbacks.BackupAndRestore(backup_dir, double_checkpoint=True),
                    InterruptAt(3)])
    assert sorted(os.listdir(backup_dir)) == [
        "latest.weights.npz", "latest.weights.npz.bkp",
        "training_metadata.json", "training_metadata.json.bkp"]
    (backup_dir / "latest.weights.npz").write_bytes(b"corrupt")  # a damaged latest backup
    recorder = EpochRecorder()
    fit(make_model(run_eagerly=True),
        [gk.callbacks.BackupAndRestore(backup_dir, double_checkpoint=True), recorder])
    assert recorder.epochs == [2, 3]  # from the previous backup, taken after epoch 2


def test_a_corrupt_backup_without_a_previous_one_is_an_error(tmp_path):
    backup_dir = tmp_path / "backup"
    backup_dir.mkdir()
    (backup_dir / "latest.weights.npz").write_bytes(b"corrupt")
    with pytest.raises(ValueError, match="latest.weights.npz"):
        fit(make_model(run_eagerly=True), [gk.callbacks.BackupAndRestore(backup_dir)])


def test_no_temporary_files_are_left_behind(tmp_path):
    backup_dir = tmp_path / "backup"
    fit(make_model(run_eagerly=True),
        [gk.callbacks.BackupAndRestore(backup_dir, save_freq=1, double_checkpoint=True,
                                       delete_checkpoint=False)])
    assert not [n for n in os.listdir(backup_dir) if n.endswith(".tmp")]


@pytest.mark.parametrize("kwargs", [{"backup_dir": ""}, {"backup_dir": "b", "save_freq": "x"}])
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        gk.callbacks.BackupAndRestore(**kwargs)


def test_an_unbuilt_model_is_an_error(tmp_path):
    class Subclassed(gk.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1)

        def call(self, x):
            return self.dense(x)
    model = Subclassed()
    model.compile(optimizer="adam", loss="mse", run_eagerly=True)
    with pytest.raises(ValueError, match="must be built"):
        fit(model, [gk.callbacks.BackupAndRestore(tmp_path / "b")])
