"""SimpleRNN, LSTM and GRU: the RNN of a SimpleRNNCell, LSTMCell or GRUCell built from the
layer's own arguments, configured flat as Keras (the cell's arguments beside the layer's)."""
from graphkit import naming
from graphkit.layers.rnn.cells import GRUCell, LSTMCell, SimpleRNNCell
from graphkit.layers.rnn.rnn import RNN


class _RNN(RNN):
    cell_class = None
    # The arguments after `units` in the order of Keras's constructor, which lists the
    # cell's first: `LSTM(4, "relu")` sets the activation, not `return_sequences`.
    positional = ()

    def __init__(self, units, *args, **kwargs):
        if len(args) > len(self.positional):
            raise TypeError(f"{type(self).__name__}() takes at most "
                            f"{len(self.positional) + 1} positional arguments "
                            f"({len(args) + 1} given)")
        for name, value in zip(self.positional, args):
            if name in kwargs:
                raise TypeError(f"{type(self).__name__}() got multiple values for argument "
                                f"'{name}'")
            kwargs[name] = value
        self._setup(units, **kwargs)

    def _setup(self, units, return_sequences=False, return_state=False, go_backwards=False,
               stateful=False, unroll=False, zero_output_for_mask=False,
               activity_regularizer=None, name=None, dtype=None, trainable=True,
               use_cudnn="auto", **cell_kwargs):
        # The cell's own name, as in Keras (`lstm/lstm_cell/kernel` for every LSTM): not
        # numbered per instance, so weight paths do not depend on how many RNNs exist.
        cell_name = naming.to_snake_case(self.cell_class.__name__)
        super().__init__(self.cell_class(units, dtype=dtype, name=cell_name, **cell_kwargs),
                         return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         zero_output_for_mask=zero_output_for_mask,
                         activity_regularizer=activity_regularizer, name=name, dtype=dtype,
                         trainable=trainable)
        self.use_cudnn = use_cudnn  # accepted for Keras code; there is no cuDNN here

    @property
    def units(self):
        return self.cell.units

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        return {**config, **cell_config,
                "activity_regularizer": _serialize_regularizer(self.activity_regularizer)}


def _serialize_regularizer(regularizer):
    from graphkit import regularizers
    return regularizers.serialize(regularizer)


# Runs of Keras's constructor arguments, for the `positional` orders below.
_INITIALIZERS = ("kernel_initializer", "recurrent_initializer", "bias_initializer")
_REGULARIZATION = ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
                   "activity_regularizer", "kernel_constraint", "recurrent_constraint",
                   "bias_constraint", "dropout", "recurrent_dropout")
_SEQUENCE_ARGS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll")


class SimpleRNN(_RNN):
    """Fully-connected RNN: `h_t = activation(x_t W + h_{t-1} U + b)`."""

    cell_class = SimpleRNNCell
    positional = ("activation", "use_bias", *_INITIALIZERS, *_REGULARIZATION, *_SEQUENCE_ARGS,
                  "seed")

    def get_config(self):
        config = super().get_config()
        del config["seed"]  # Keras's SimpleRNN config has no seed (its SimpleRNNCell's has)
        return config


class LSTM(_RNN):
    """Long Short-Term Memory (Hochreiter & Schmidhuber, 1997), Keras 3 weights."""

    cell_class = LSTMCell
    positional = ("activation", "recurrent_activation", "use_bias", *_INITIALIZERS,
                  "unit_forget_bias", *_REGULARIZATION, "seed", *_SEQUENCE_ARGS, "use_cudnn")


class GRU(_RNN):
    """Gated Recurrent Unit (Cho et al., 2014), `reset_after=True` by default as Keras."""

    cell_class = GRUCell
    positional = ("activation", "recurrent_activation", "use_bias", *_INITIALIZERS,
                  *_REGULARIZATION, "seed", *_SEQUENCE_ARGS, "reset_after", "use_cudnn")
