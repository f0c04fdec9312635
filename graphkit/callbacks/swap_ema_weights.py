"""`SwapEMAWeights`: evaluate (and predict) on the optimizer's moving averages of the
weights (`use_ema=True`, Polyak averaging), swapping them into the model in place and back.

With `swap_on_epoch=True` the averages are also in the model from `on_epoch_end` to the next
`on_epoch_begin`, so callbacks after this one (e.g. `ModelCheckpoint`) see them.
"""
from graphkit.callbacks.callback import Callback


class SwapEMAWeights(Callback):
    def __init__(self, swap_on_epoch=False):
        super().__init__()
        self.swap_on_epoch = swap_on_epoch
        self._ema_weights_in_model = False

    def _ema_optimizer(self):
        optimizer = self.model.optimizer
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
        if not hasattr(optimizer, "_model_variables_moving_average"):
            raise ValueError("SwapEMAWeights must be used when `use_ema=True` is set on the "
                             f"optimizer. Received: use_ema={optimizer.use_ema}")
        return optimizer

    def _swap_variables(self):
        optimizer = self._ema_optimizer()
        for variable, average in zip(optimizer._trainable_variables,
                                     optimizer._model_variables_moving_average):
            # numpy() copies: the two variables must not end up sharing one buffer.
            value = variable.numpy()
            variable.assign(average.numpy())
            average.assign(value)

    def _finalize_ema_values(self):
        """After the last epoch's swap the averages sit in the model and the raw weights in
        the average slots; `fit`'s final `finalize_variable_values` copies the slots into
        the model, so they must hold the averages again."""
        optimizer = self._ema_optimizer()
        for variable, average in zip(optimizer._trainable_variables,
                                     optimizer._model_variables_moving_average):
            average.assign(variable.numpy())

    def _set_swapped(self, want_ema):
        if self._ema_weights_in_model != want_ema:
            self._swap_variables()
            self._ema_weights_in_model = want_ema

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch:
            self._set_swapped(False)

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch and not self._ema_weights_in_model:
            self._set_swapped(True)
            if epoch == self.params["epochs"] - 1:
                self._finalize_ema_values()

    def on_test_begin(self, logs=None):
        self._set_swapped(True)

    def on_test_end(self, logs=None):
        self._set_swapped(False)

    def on_predict_begin(self, logs=None):
        self._set_swapped(True)

    def on_predict_end(self, logs=None):
        self._set_swapped(False)
