"""ConvLSTM1D, ConvLSTM2D and ConvLSTM3D: an LSTM whose input and recurrent transforms are
convolutions, as Keras 3's `keras.layers.ConvLSTM*D`, and `ConvLSTMCell`, their shared step
(internal in Keras too, so not exported from `gk.layers`).

Weights as Keras (so `set_weights(keras_layer.get_weights())` works): `kernel`
`(*kernel_size, channels, 4 * filters)`, `recurrent_kernel` `(*kernel_size, filters,
4 * filters)` and `bias` `(4 * filters,)`, gates i, f, c, o along the last axis. The input
conv takes the layer's strides, padding and dilation; the recurrent conv is always stride 1,
"same" padding and no dilation (as Keras), so the states keep the output's spatial shape.

Each step of `(batch, steps, *spatial, channels)` (channels first: `(batch, steps,
channels, *spatial)`) is `(batch, *spatial, channels)`; states `h` and `c` are feature maps
`(batch, *out_spatial, filters)`. The layer is graphkit's `RNN` with hooks for those shapes.
"""
from graphkit import activations, constraints, initializers, ops, random, regularizers
from graphkit.layers.input_spec import InputSpec
from graphkit.layers.layer import Layer
from graphkit.layers.pooling.arguments import (check_output_size, set_conv_window,
                                               window_output_length)
from graphkit.layers.rnn.rnn import RNN

_GATES = 4  # i, f, c, o, in Keras's order

# The cell's arguments that the layer also takes and configures flat (Keras's order).
_CELL_ARGS = ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
              "activation", "recurrent_activation", "use_bias", "kernel_initializer",
              "recurrent_initializer", "bias_initializer", "unit_forget_bias",
              "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
              "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
              "recurrent_dropout", "seed")
_SERIALIZERS = {"activation": activations, "recurrent_activation": activations,
                "kernel_initializer": initializers, "recurrent_initializer": initializers,
                "bias_initializer": initializers, "kernel_regularizer": regularizers,
                "recurrent_regularizer": regularizers, "bias_regularizer": regularizers,
                "kernel_constraint": constraints, "recurrent_constraint": constraints,
                "bias_constraint": constraints}


class ConvLSTMCell(Layer):
    """One ConvLSTM step: `call(inputs_t, [h, c])` -> `(h, [h, c])`.

    As graphkit's LSTMCell, the step is split in two so the RNN can convolve the whole
    sequence's inputs at once: `project_inputs` (input conv + bias, no state) and `step`
    (recurrent conv and gates)."""

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid",
                 data_format=None, dilation_rate=1, activation="tanh",
                 recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        where = self._where()
        if rank not in (1, 2, 3):
            raise ValueError(f"{where}: `rank` must be 1, 2 or 3. Received: rank={rank!r}")
        self.rank = rank
        self._set_window(filters, kernel_size, strides, padding, data_format, dilation_rate)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias, self.unit_forget_bias = bool(use_bias), bool(unit_forget_bias)
        for role, init in (("kernel", kernel_initializer),
                           ("recurrent", recurrent_initializer), ("bias", bias_initializer)):
            setattr(self, f"{role}_initializer", initializers.get(init))
        for role, reg in (("kernel", kernel_regularizer),
                          ("recurrent", recurrent_regularizer), ("bias", bias_regularizer)):
            setattr(self, f"{role}_regularizer", regularizers.get(reg))
        for role, con in (("kernel", kernel_constraint),
                          ("recurrent", recurrent_constraint), ("bias", bias_constraint)):
            setattr(self, f"{role}_constraint", constraints.get(con))
        self._set_dropout(dropout, recurrent_dropout, seed)

    def _where(self):
        return f"{type(self).__name__} '{self.name}'"

    def _set_window(self, filters, kernel_size, strides, padding, data_format, dilation_rate):
        where = self._where()
        if isinstance(filters, bool) or not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"{where}: `filters` must be a positive integer. "
                             f"Received: filters={filters!r}")
        self.filters = filters
        set_conv_window(self, where, kernel_size, strides, dilation_rate, padding, data_format)

    def _set_dropout(self, dropout, recurrent_dropout, seed):
        # Rates of 1 or more are rejected (as graphkit's other cells) rather than clamped.
        for arg, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"{self._where()}: `{arg}` must be in [0, 1). "
                                 f"Received: {arg}={rate!r}")
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)
        self.seed = seed
        if self.dropout or self.recurrent_dropout:
            self.seed_generator = random.SeedGenerator(seed)

    @property
    def state_size(self):
        return [self.filters, self.filters]  # channels of h and c (their maps are spatial)

    # -- shapes ---------------------------------------------------------------------------

    def _channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def _spatial(self, shape):
        """The spatial dims of a step shape `(batch, ...)`."""
        return tuple(shape[1:-1]) if self.data_format == "channels_last" else tuple(shape[2:])

    def _check_step_shape(self, shape):
        if len(shape) != self.rank + 2:
            raise ValueError(f"{self._where()}: expected step inputs of rank {self.rank + 2} "
                             f"(batch, {self.rank} spatial axes, channels). "
                             f"Received: input_shape={tuple(shape)}")

    def compute_output_shape(self, inputs_shape, states_shape=None):
        """The shape of h (and of c) for a step of shape `inputs_shape`, as Keras:
        `(output, [h, c])`."""
        self._check_step_shape(inputs_shape)
        spatial = [window_output_length(n, k, s, self.padding, d) for n, k, s, d in zip(
            self._spatial(inputs_shape), self.kernel_size, self.strides, self.dilation_rate)]
        check_output_size(self._where(), inputs_shape, spatial, self.padding,
                          kernel_size=self.kernel_size, strides=self.strides,
                          dilation_rate=self.dilation_rate)
        if self.data_format == "channels_last":
            out = (inputs_shape[0], *spatial, self.filters)
        else:
            out = (inputs_shape[0], self.filters, *spatial)
        return out, [out, out]

    # -- weights --------------------------------------------------------------------------

    def build(self, inputs_shape, states_shape=None):
        self._check_step_shape(inputs_shape)
        channels = inputs_shape[self._channel_axis()]
        if None in self._spatial(inputs_shape) or channels is None:
            raise ValueError(f"{self._where()}: the spatial and channel dimensions of the "
                             "inputs must be known (ConvLSTM layers need static spatial "
                             f"shapes). Received: input_shape={tuple(inputs_shape)}")
        self.compute_output_shape(inputs_shape)  # as Keras: no zero-size output
        n = _GATES * self.filters
        self.kernel = self.add_weight(
            name="kernel", shape=(*self.kernel_size, channels, n),
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel", shape=(*self.kernel_size, self.filters, n),
            initializer=self.recurrent_initializer, regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(n,), initializer=self._bias_initializer(),
                regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, filters = self.bias_initializer, self.filters

        def forget_gate_ones(shape, dtype=None):
            return ops.concatenate([base((filters,), dtype=dtype),
                                    ops.ones((filters,), dtype),
                                    base((2 * filters,), dtype=dtype)])
        return forget_gate_ones

    # -- the step -------------------------------------------------------------------------

    def zero_states(self, inputs_t):
        """Zero h and c for the step `inputs_t`, without needing a static batch size: a
        slice of zeros like the inputs (output dims never exceed input dims) plus zeros of
        the filters."""
        spatial = self._spatial(self.compute_output_shape(tuple(inputs_t.shape))[0])
        window = tuple(slice(0, n) for n in spatial)
        if self.data_format == "channels_last":
            column = ops.zeros_like(inputs_t[(slice(None), *window, slice(0, 1))])
            filters = ops.zeros((self.filters,), inputs_t.dtype)
        else:
            column = ops.zeros_like(inputs_t[(slice(None), slice(0, 1), *window)])
            filters = ops.zeros((self.filters,) + (1,) * self.rank, inputs_t.dtype)
        zeros = ops.add(column, filters)
        return [zeros, ops.zeros_like(zeros)]

    def dropout_masks(self, inputs_t, h_t, training):
        """Keras's masks: one per gate (4) for the inputs and for h, kept for the whole
        sequence; None when not dropping."""
        def masks(like, rate):
            if not (training and rate):
                return None
            return [random.dropout(ops.ones_like(like), rate, seed=self.seed_generator)
                    for _ in range(_GATES)]
        return masks(inputs_t, self.dropout), masks(h_t, self.recurrent_dropout)

    def _conv(self, x, kernel, masks, **window):
        """conv(x, kernel) with the 4 gates' output channels; with dropout masks, each
        gate convolves its own masked x (so 4 convs instead of 1)."""
        if masks is None:
            return ops.conv(x, kernel, data_format=self.data_format, **window)
        kernels = ops.split(kernel, _GATES, axis=-1)
        return ops.concatenate(
            [ops.conv(ops.multiply(x, m), k, data_format=self.data_format, **window)
             for m, k in zip(masks, kernels)], axis=self._channel_axis())

    def project_inputs(self, inputs, dropout_masks=None):
        """`conv(inputs, kernel) + bias`: the part of a step that does not read the state,
        for one step `(batch, ...)` or a whole sequence `(batch, steps, ...)`. The RNN
        projects the whole sequence before the loop: its steps are folded into the batch,
        so one conv serves every step and the unrolled steps hold only the recurrent conv."""
        if len(inputs.shape) == self.rank + 2:
            return self._add_bias(self._input_conv(inputs, self.kernel, dropout_masks))
        steps = inputs.shape[1]
        if dropout_masks is not None:  # the same per-gate masks at every step, as Keras
            dropout_masks = [ops.expand_dims(m, 1) for m in dropout_masks]
        # Folding the masks' step axis in too would need them repeated per step; masking
        # the sequence first keeps them (batch, 1, ...).
        if dropout_masks is None:
            z = self._input_conv(_fold_steps(inputs), self.kernel, None)
        else:
            z = ops.concatenate(
                [self._input_conv(_fold_steps(ops.multiply(inputs, m)), k, None)
                 for m, k in zip(dropout_masks, ops.split(self.kernel, _GATES, axis=-1))],
                axis=self._channel_axis())
        return self._add_bias(ops.reshape(z, (-1, steps, *z.shape[1:])))

    def _input_conv(self, x, kernel, masks):
        return self._conv(x, kernel, masks, strides=self.strides, padding=self.padding,
                          dilation_rate=self.dilation_rate)

    def _add_bias(self, z):
        if self.bias is None:
            return z
        bias = self.bias
        if self.data_format == "channels_first":
            bias = ops.reshape(bias, (bias.shape[0],) + (1,) * self.rank)
        return ops.add(z, bias)

    def step(self, projected, states, recurrent_masks=None):
        """The gates from the projected inputs and the recurrent conv of h (stride 1,
        'same', no dilation, as Keras: h keeps its spatial shape)."""
        h_prev, c_prev = states
        z = ops.add(projected, self._conv(h_prev, self.recurrent_kernel, recurrent_masks,
                                          strides=1, padding="same"))
        zi, zf, zc, zo = ops.split(z, _GATES, axis=self._channel_axis())
        i, f, o = (self.recurrent_activation(g) for g in (zi, zf, zo))
        c = ops.add(ops.multiply(f, c_prev), ops.multiply(i, self.activation(zc)))
        h = ops.multiply(o, self.activation(c))
        return h, [h, c]

    def call(self, inputs, states, training=None):
        """One step on its own (outside an RNN the masks are drawn for this step only)."""
        if not isinstance(states, (list, tuple)) or len(states) != 2:
            raise ValueError(f"{self._where()}: `states` must be a list of 2 tensors [h, c]."
                             f" Received: states={states!r}")
        input_masks, recurrent_masks = self.dropout_masks(inputs, states[0], training)
        return self.step(self.project_inputs(inputs, input_masks), list(states),
                         recurrent_masks)

    def get_config(self):
        # `rank` too (Keras's cell config lacks it, so its from_config cannot rebuild one).
        return {**super().get_config(), "rank": self.rank, **cell_config(self)}


def _fold_steps(sequences):
    """(batch, steps, ...) -> (batch * steps, ...), with an unknown batch size allowed."""
    return ops.reshape(sequences, (-1, *sequences.shape[2:]))


def cell_config(cell):
    """The config entries of `_CELL_ARGS`, serialized where they are objects."""
    config = {}
    for arg in _CELL_ARGS:
        value = getattr(cell, arg)
        config[arg] = _SERIALIZERS[arg].serialize(value) if arg in _SERIALIZERS else value
    return config


class ConvLSTM(RNN):
    """The RNN of a ConvLSTMCell of `rank` spatial axes (set by ConvLSTM1D/2D/3D),
    configured flat as Keras (the cell's arguments beside the layer's)."""

    rank = None

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, **kwargs):
        cell_kwargs = {k: v for k, v in locals().items() if k in _CELL_ARGS}
        # Keras's fixed cell name: weight paths `conv_lstm2d/conv_lstm_cell/kernel`.
        cell = ConvLSTMCell(self.rank, name="conv_lstm_cell", dtype=kwargs.get("dtype"),
                            **cell_kwargs)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.input_spec = InputSpec(ndim=self.rank + 3)

    def _step_shape(self, sequences_shape):
        return (sequences_shape[0], *sequences_shape[2:])

    def build(self, sequences_shape, initial_state_shape=None):
        self._check_rank(sequences_shape)
        with self.cell._name_scope():
            self.cell.build(self._step_shape(sequences_shape))
        # Later calls must bring the same channels (else the conv fails unnamed).
        channel_axis = -1 if self.cell.data_format == "channels_last" else 2
        self.input_spec = InputSpec(ndim=self.rank + 3,
                                    axes={channel_axis: sequences_shape[channel_axis]})
        self.built = True

    def _check_rank(self, sequences_shape):
        if len(sequences_shape) != self.rank + 3:
            raise ValueError(f"{type(self).__name__} '{self.name}': expected inputs of rank "
                             f"{self.rank + 3} (batch, timesteps, {self.rank} spatial axes, "
                             f"channels). Received: input_shape={tuple(sequences_shape)}")

    # -- RNN hooks for feature-map states -------------------------------------------------

    def _zero_states(self, sequences):
        return self.cell.zero_states(sequences[:, 0])

    def _initial_states(self, sequences, initial_state):
        # What `_check_state_shape` compares against: h's shape for these inputs.
        step = self._step_shape(tuple(sequences.shape))
        self._state_dims = tuple(self.cell.compute_output_shape(step)[0][1:])
        return super()._initial_states(sequences, initial_state)

    def _check_state_shape(self, index, shape, size, batch):
        """Each initial state has h's shape `(batch, *out_spatial, filters)`."""
        expected = (batch, *self._state_dims)
        if len(shape) == len(expected) and all(
                a is None or b is None or a == b for a, b in zip(shape, expected)):
            return
        raise ValueError(
            f"{type(self).__name__} '{self.name}': `initial_state[{index}]` must have shape "
            f"{expected} for these inputs. Received: initial_state[{index}].shape={shape}")

    def _step_function(self, sequences, states, training):
        """As RNN's for its own cells: the input conv runs once over the whole sequence
        before the loop, and the dropout masks are drawn once per sequence."""
        cell = self.cell
        input_masks, recurrent_masks = cell.dropout_masks(sequences[:, 0], states[0],
                                                          training)
        projected = cell.project_inputs(sequences, input_masks)
        return projected, lambda x_t, s: cell.step(x_t, s, recurrent_masks)

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        self._check_rank(sequences_shape)
        batch = sequences_shape[0]
        state = self.cell.compute_output_shape(self._step_shape(sequences_shape))[0]
        out = (batch, sequences_shape[1], *state[1:]) if self.return_sequences else state
        return [out, state, state] if self.return_state else out

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        return {**config, **cell_config(self.cell),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer)}


def _cell_property(arg):
    return property(lambda self: getattr(self.cell, arg),
                    doc=f"The cell's `{arg}` (as Keras's ConvLSTM layers).")


for _arg in _CELL_ARGS:
    setattr(ConvLSTM, _arg, _cell_property(_arg))


class ConvLSTM1D(ConvLSTM):
    """1D convolutional LSTM over `(batch, timesteps, steps, channels)`."""

    rank = 1


class ConvLSTM2D(ConvLSTM):
    """2D convolutional LSTM over `(batch, timesteps, rows, cols, channels)`."""

    rank = 2


class ConvLSTM3D(ConvLSTM):
    """3D convolutional LSTM over `(batch, timesteps, depth, rows, cols, channels)`."""

    rank = 3
