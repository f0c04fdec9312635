"""SimpleRNN, LSTM and GRU: a cell unrolled over the (static) time axis with `gk.ops`.

The loop is plain Python over the known number of steps, so the same code runs eagerly,
symbolically and when traced to the IR. A `(batch, steps)` mask keeps the state (and
repeats the previous output) at padded steps via `ops.where`, as Keras does, so padding
after the last valid step leaves the final output unchanged.
"""
from graphkit import ops
from graphkit.layers.input_spec import InputSpec
from graphkit.layers.layer import Layer
from graphkit.layers.rnn.cells import GRUCell, LSTMCell, SimpleRNNCell

_RNN_KEYS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
             "zero_output_for_mask")


class _RNN(Layer):
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
        super().__init__(activity_regularizer=activity_regularizer, name=name, dtype=dtype,
                         trainable=trainable)
        if stateful:
            raise ValueError(f"{type(self).__name__} '{self.name}': `stateful=True` is not "
                             "supported by graphkit; pass `initial_state` instead.")
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = False
        self.unroll = bool(unroll)  # always unrolled: the loop is over static steps
        self.use_cudnn = use_cudnn  # accepted for Keras code; there is no cuDNN here
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.cell = self.cell_class(units, dtype=dtype, **cell_kwargs)
        self.supports_masking = True
        self.input_spec = InputSpec(ndim=3)

    @property
    def units(self):
        return self.cell.units

    def build(self, sequences_shape, initial_state_shape=None):
        with self.cell._name_scope():
            self.cell.build((sequences_shape[0], sequences_shape[-1]))
        # Later calls must bring the same features (else the kernel's matmul fails unnamed).
        self.input_spec = InputSpec(ndim=3, axes={-1: sequences_shape[-1]})
        self.built = True

    def _initial_states(self, sequences, initial_state):
        if initial_state is not None:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) \
                else [initial_state]
            if len(states) != len(self.cell.state_size):
                raise ValueError(
                    f"{type(self).__name__} '{self.name}': expected "
                    f"{len(self.cell.state_size)} initial state tensor(s), received "
                    f"{len(states)}")
            states = [ops.convert_to_tensor(s) for s in states]
            for i, (state, size) in enumerate(zip(states, self.cell.state_size)):
                self._check_state_shape(i, tuple(state.shape), size, sequences.shape[0])
            return [ops.cast(s, sequences.dtype) for s in states]
        # zeros of shape (batch, size) without needing a static batch size
        column = ops.zeros_like(sequences[:, 0, :1])
        return [ops.add(column, ops.zeros((size,), sequences.dtype))
                for size in self.cell.state_size]

    def _check_state_shape(self, index, shape, size, batch):
        """Each initial state is (batch, state size); unknown dims pass."""
        if len(shape) == 2 and shape[1] in (None, size) and (
                None in (batch, shape[0]) or shape[0] == batch):
            return
        raise ValueError(
            f"{type(self).__name__} '{self.name}': `initial_state[{index}]` must have shape "
            f"(batch, {size}) for {self.units} units and inputs with batch size {batch}. "
            f"Received: initial_state[{index}].shape={shape}")

    def call(self, sequences, initial_state=None, mask=None, training=None):
        steps = sequences.shape[1]
        if steps is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': the number of timesteps "
                             "must be known to unroll the loop. Received inputs of shape "
                             f"{tuple(sequences.shape)}")
        if mask is not None and (len(mask.shape) != 2 or any(
                m is not None and d is not None and m != d
                for m, d in zip(mask.shape, sequences.shape[:2]))):
            raise ValueError(f"{type(self).__name__} '{self.name}': the mask must have shape "
                             f"(batch, timesteps) = {tuple(sequences.shape[:2])}. Received: "
                             f"mask.shape={tuple(mask.shape)}")
        states = self._initial_states(sequences, initial_state)
        dropout_masks = self.cell.dropout_masks(sequences[:, 0, :], states[0], training)
        projected = self.cell.project_inputs(sequences, dropout_masks[0])
        output = ops.zeros_like(states[0])
        outputs = []
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        for t in order:
            step_out, new_states = self.cell.step(projected[:, t, :], states,
                                                  dropout_masks[1])
            if mask is None:
                output, states = step_out, new_states
            else:
                keep = ops.expand_dims(ops.cast(mask[:, t], "bool"), -1)
                masked_out = ops.zeros_like(step_out) if self.zero_output_for_mask \
                    else output
                output = ops.where(keep, step_out, output)
                outputs_t = ops.where(keep, step_out, masked_out)
                states = [ops.where(keep, new, old) for new, old in zip(new_states, states)]
                if self.return_sequences:
                    outputs.append(outputs_t)
                continue
            if self.return_sequences:
                outputs.append(output)
        result = ops.stack(outputs, axis=1) if self.return_sequences else output
        if self.return_state:
            return [result] + list(states)
        return result

    def compute_mask(self, sequences, previous_mask):
        mask = previous_mask[0] if isinstance(previous_mask, (list, tuple)) else previous_mask
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self.cell.state_size)
        return output_mask

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch = sequences_shape[0]
        out = (batch, sequences_shape[1], self.units) if self.return_sequences \
            else (batch, self.units)
        if self.return_state:
            return [out] + [(batch, size) for size in self.cell.state_size]
        return out

    def get_config(self):
        config = {key: getattr(self, key) for key in _RNN_KEYS}
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        return {**super().get_config(), **config, **cell_config,
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
