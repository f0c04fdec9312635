"""`CallbackList`: calls every hook on every callback, in order, and adds the History and
ProgbarLogger callbacks that `fit` always has (unless the user passed their own)."""
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
            # First, so that its lines come before whatever other callbacks print.
            self.callbacks.insert(0, ProgbarLogger())
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
    def hook(self, *args, **kwargs):
        for c in self.callbacks:
            getattr(c, name)(*args, **kwargs)
    hook.__name__ = name
    return hook


for _name in _HOOKS:
    setattr(CallbackList, _name, _dispatch(_name))
