"""`CallbackList`: calls every hook on every callback, in order, and adds the History and
ProgbarLogger callbacks that `fit` always has (unless the user passed their own).

As in Keras 3, every hook gets a logs dict (`{}` when there are none), its keys sorted."""
from graphkit.callbacks.callback import Callback
from graphkit.callbacks.history import History
from graphkit.callbacks.progbar_logger import ProgbarLogger

_HOOKS = (
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
    "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
    "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
    "on_predict_batch_begin", "on_predict_batch_end",
)


class CallbackList(Callback):
    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None,
                 **params):
        super().__init__()
        if isinstance(callbacks, Callback):
            callbacks = [callbacks]  # Keras takes `callbacks=cb` as well as a list
        callbacks = list(callbacks or [])
        for c in callbacks:
            if not isinstance(c, Callback):
                raise TypeError("callbacks: every callback must be a "
                                f"gk.callbacks.Callback, received {type(c).__name__}")
        self.callbacks = callbacks
        self._history = next((c for c in callbacks if isinstance(c, History)), None)
        if add_history and self._history is None:
            self._history = History()
            self.callbacks.append(self._history)
        if add_progbar and not any(isinstance(c, ProgbarLogger) for c in callbacks):
            # Last, as in Keras: the epoch line then shows what other callbacks add to the
            # logs (LearningRateScheduler's and ReduceLROnPlateau's "learning_rate").
            self.callbacks.append(ProgbarLogger())
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    @property
    def history(self):
        return self._history

    def append(self, callback):
        self.callbacks.append(callback)

    def set_params(self, params):
        self.params = params
        for c in self.callbacks:
            c.set_params(params)

    def set_model(self, model):
        self._model = model
        for c in self.callbacks:
            c.set_model(model)


def _dispatch(name):
    if "batch" in name:
        def hook(self, batch, logs=None):
            logs = _sorted_logs(logs)
            for c in self.callbacks:
                getattr(c, name)(batch, logs=logs)  # by keyword for batch hooks, as Keras
    elif "epoch" in name:
        def hook(self, epoch, logs=None):
            logs = _sorted_logs(logs)
            for c in self.callbacks:
                getattr(c, name)(epoch, logs)
    else:
        def hook(self, logs=None):
            logs = _sorted_logs(logs)
            for c in self.callbacks:
                getattr(c, name)(logs)
    hook.__name__ = name
    return hook


def _sorted_logs(logs):
    """A new dict, shared by the hook's callbacks (what one adds, the next ones see), as
    Keras's `pythonify_logs` makes it: so `lambda epoch, logs: ...` always gets a dict, and
    the progress bar and History list the keys in Keras's order."""
    return {} if logs is None else dict(sorted(logs.items()))


for _name in _HOOKS:
    setattr(CallbackList, _name, _dispatch(_name))
