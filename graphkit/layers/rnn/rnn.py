"""`RNN`: a cell unrolled over the (static) time axis, as Keras 3's `keras.layers.RNN`, and
`StackedRNNCells`, a list of cells that run as one cell.

A cell is graphkit's SimpleRNNCell, LSTMCell or GRUCell, or any layer with a `state_size`
(an int, or a list with one entry per state) and `call(inputs, states)` returning
`(output, new_states)`, as in Keras. SimpleRNN, LSTM and GRU are RNNs of their cell.

The loop is plain Python over the known number of steps, so the same code runs eagerly,
symbolically and when traced to the IR. A `(batch, steps)` mask keeps the states (and
repeats the previous output) at padded steps via `ops.where`, as Keras does, so padding
after the last valid step leaves the final output unchanged.
"""
from graphkit import ops, tree
from graphkit.layers.input_spec import InputSpec
from graphkit.layers.layer import Layer
from graphkit.layers.rnn.cells import _Cell
from graphkit.saving import serialization

_SEQUENCE_KEYS = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
                  "zero_output_for_mask")


def _check_cell(cell, where):
    """As Keras: a cell needs `call` and a `state_size` of ints (or lists of ints)."""
    if not callable(getattr(cell, "call", None)):
        raise ValueError(f"{where}: a cell must have a `call(inputs, states)` method. "
                         f"Received: cell={cell!r}")
    state_size = getattr(cell, "state_size", None)
    sizes = tree.flatten(state_size) if isinstance(state_size, (list, tuple)) else [state_size]
    if not sizes or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0
                            for s in sizes):
        raise ValueError(f"{where}: a cell must have a `state_size`, a positive int or a list "
                         f"of them (one per state). Received: state_size={state_size!r} for "
                         f"cell={cell!r}")


def _as_list(state_size):
    return list(state_size) if isinstance(state_size, (list, tuple)) else [state_size]


def cell_output_size(cell):
    """The width of a cell's output: its `output_size`, else its first state's size."""
    size = getattr(cell, "output_size", None)
    return size if size is not None else tree.flatten(_as_list(cell.state_size))[0]


def _where_kept(keep, new, old):
    """`new` where the step's `(batch,)` mask is true, else `old`: the mask gets one axis
    per non-batch axis of `new`, so feature maps (ConvLSTM's states) broadcast too."""
    keep = ops.reshape(keep, (-1,) + (1,) * (len(new.shape) - 1))
    return ops.where(keep, new, old)


def _deserialize(cell):
    return serialization.deserialize_keras_object(cell) if isinstance(cell, dict) else cell


def _build_cell(cell, input_shape):
    if isinstance(cell, Layer) and not cell.built:
        with cell._name_scope():
            cell.build(input_shape)


def call_cell(cell, inputs, states, **kwargs):
    """`cell(inputs, states)` -> (output, new states as a list); a cell may return a single
    state bare, as Keras allows. `training` reaches a Layer cell through the call context."""
    output, new_states = cell(inputs, states, **kwargs)
    return output, list(new_states) if tree.is_nested(new_states) else [new_states]


class StackedRNNCells(Layer):
    """Cells run one after the other at each step, each reading the previous one's output;
    `state_size` lists the cells' state sizes (nested), the output is the last cell's."""

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        cells = [_deserialize(cell) for cell in cells]
        if not cells:
            raise ValueError(f"StackedRNNCells '{self.name}': `cells` must list at least one "
                             "cell. Received: cells=[]")
        for cell in cells:
            _check_cell(cell, f"StackedRNNCells '{self.name}'")
        self.cells = cells

    @property
    def state_size(self):
        return [cell.state_size for cell in self.cells]

    @property
    def output_size(self):
        return cell_output_size(self.cells[-1])

    def build(self, input_shape):
        for cell in self.cells:
            _build_cell(cell, input_shape)
            input_shape = (input_shape[0], cell_output_size(cell))
        self.built = True

    def dropout_masks(self, inputs_t, states, training):
        """One dropout mask pair per graphkit cell for a whole sequence (as Keras), None for
        other cells; each cell's inputs are the previous cell's outputs."""
        masks = []
        for cell, state in zip(self.cells, states):
            first_state = state[0] if isinstance(state, (list, tuple)) else state
            masks.append(cell.dropout_masks(inputs_t, first_state, training)
                         if isinstance(cell, _Cell) else None)
            # zeros (batch, output size), without needing a static batch size
            inputs_t = ops.add(ops.zeros_like(inputs_t[:, :1]),
                               ops.zeros((cell_output_size(cell),), inputs_t.dtype))
        return masks

    def call(self, inputs, states, dropout_masks=None):
        dropout_masks = dropout_masks or [None] * len(self.cells)
        new_states = []
        for cell, state, masks in zip(self.cells, states, dropout_masks):
            nested = isinstance(state, (list, tuple))
            kwargs = {} if masks is None else {"dropout_masks": masks}
            inputs, new = call_cell(cell, inputs, list(state) if nested else [state],
                                    **kwargs)
            new_states.append(new if nested else new[0])
        return inputs, new_states

    def get_config(self):
        cells = [serialization.serialize_keras_object(cell) for cell in self.cells]
        return {**super().get_config(), "cells": cells}


class RNN(Layer):
    """`RNN(cell)` or `RNN([cell, ...])` (a StackedRNNCells). Weights: the cell's, in its
    order (`rnn/<cell name>/...`, as Keras)."""

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            # The layer's policy: else the stack would cast float64 steps to float32.
            cell = StackedRNNCells(cell, dtype=kwargs.get("dtype"))
        cell = _deserialize(cell)
        super().__init__(**kwargs)
        _check_cell(cell, f"{type(self).__name__} '{self.name}'")
        if stateful:
            raise ValueError(f"{type(self).__name__} '{self.name}': `stateful=True` is not "
                             "supported by graphkit; pass `initial_state` instead.")
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = False
        self.unroll = bool(unroll)  # always unrolled: the loop is over static steps
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.cell = cell
        self.supports_masking = True
        self.input_spec = InputSpec(ndim=3)

    @property
    def state_size(self):
        return _as_list(self.cell.state_size)

    def build(self, sequences_shape, initial_state_shape=None):
        _build_cell(self.cell, (sequences_shape[0], sequences_shape[-1]))
        # Later calls must bring the same features (else the kernel's matmul fails unnamed).
        self.input_spec = InputSpec(ndim=3, axes={-1: sequences_shape[-1]})
        self.built = True

    # -- initial states -------------------------------------------------------------------
    def _initial_states(self, sequences, initial_state):
        if initial_state is None:
            return self._zero_states(sequences)
        flat = [ops.convert_to_tensor(s) for s in tree.flatten(initial_state)]
        sizes = tree.flatten(self.state_size)
        if len(flat) != len(sizes):
            raise ValueError(f"{type(self).__name__} '{self.name}': expected {len(sizes)} "
                             f"initial state tensor(s), received {len(flat)}")
        for i, (state, size) in enumerate(zip(flat, sizes)):
            self._check_state_shape(i, tuple(state.shape), size, sequences.shape[0])
        flat = [ops.cast(s, sequences.dtype) for s in flat]
        return tree.pack_sequence_as(self.state_size, flat)

    def _zero_states(self, sequences):
        """The cell's `get_initial_state(batch_size)` when it has one, else zeros of shape
        (batch, size), built without needing a static batch size."""
        get_initial_state = getattr(self.cell, "get_initial_state", None)
        if get_initial_state is not None:
            states = get_initial_state(batch_size=sequences.shape[0])
            return _as_list(states) if tree.is_nested(states) else [states]
        column = ops.zeros_like(sequences[:, 0, :1])
        return tree.map_structure(
            lambda size: ops.add(column, ops.zeros((size,), sequences.dtype)),
            self.state_size)

    def _check_state_shape(self, index, shape, size, batch):
        """Each initial state is (batch, state size); unknown dims pass."""
        if len(shape) == 2 and shape[1] in (None, size) and (
                None in (batch, shape[0]) or shape[0] == batch):
            return
        raise ValueError(
            f"{type(self).__name__} '{self.name}': `initial_state[{index}]` must have shape "
            f"(batch, {size}) for inputs with batch size {batch}. "
            f"Received: initial_state[{index}].shape={shape}")

    # -- the loop ---------------------------------------------------------------------------
    def _step_function(self, sequences, states, training):
        """(what each step reads, step(x_t, states) -> (output, new states)).

        graphkit's own cells project the whole sequence with one matmul before the loop
        (see `_Cell.project_inputs`); every cell keeps one dropout mask per sequence."""
        cell = self.cell
        if isinstance(cell, _Cell):
            masks = cell.dropout_masks(sequences[:, 0, :], states[0], training)
            projected = cell.project_inputs(sequences, masks[0])
            return projected, lambda x_t, s: cell.step(x_t, s, masks[1])
        kwargs = {}
        if isinstance(cell, StackedRNNCells):
            kwargs["dropout_masks"] = cell.dropout_masks(sequences[:, 0, :], states, training)
        return sequences, lambda x_t, s: call_cell(cell, x_t, s, **kwargs)

    def _check_call(self, sequences, mask):
        if sequences.shape[1] is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': the number of timesteps "
                             "must be known to unroll the loop. Received inputs of shape "
                             f"{tuple(sequences.shape)}")
        if mask is not None and (len(mask.shape) != 2 or any(
                m is not None and d is not None and m != d
                for m, d in zip(mask.shape, sequences.shape[:2]))):
            raise ValueError(f"{type(self).__name__} '{self.name}': the mask must have shape "
                             f"(batch, timesteps) = {tuple(sequences.shape[:2])}. Received: "
                             f"mask.shape={tuple(mask.shape)}")

    def call(self, sequences, initial_state=None, mask=None, training=None):
        self._check_call(sequences, mask)
        states = self._initial_states(sequences, initial_state)
        step_inputs, step = self._step_function(sequences, states, training)
        output, outputs = None, []
        steps = sequences.shape[1]
        for t in (range(steps - 1, -1, -1) if self.go_backwards else range(steps)):
            step_out, new_states = step(step_inputs[:, t, :], states)
            if output is None:
                output = ops.zeros_like(step_out)
            if mask is None:
                output, states, outputs_t = step_out, new_states, step_out
            else:
                keep = ops.cast(mask[:, t], "bool")
                masked_out = ops.zeros_like(step_out) if self.zero_output_for_mask \
                    else output
                output = _where_kept(keep, step_out, output)
                outputs_t = _where_kept(keep, step_out, masked_out)
                states = tree.map_structure(lambda new, old: _where_kept(keep, new, old),
                                            new_states, states)
            if self.return_sequences:
                outputs.append(outputs_t)
        result = ops.stack(outputs, axis=1) if self.return_sequences else output
        if self.return_state:
            return [result] + list(states)
        return result

    def compute_mask(self, sequences, previous_mask):
        mask = previous_mask[0] if isinstance(previous_mask, (list, tuple)) else previous_mask
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self.state_size)
        return output_mask

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch, width = sequences_shape[0], cell_output_size(self.cell)
        out = (batch, sequences_shape[1], width) if self.return_sequences else (batch, width)
        if self.return_state:
            return [out] + tree.map_structure(lambda size: (batch, size), self.state_size)
        return out

    def get_config(self):
        config = {key: getattr(self, key) for key in _SEQUENCE_KEYS}
        return {**super().get_config(), **config,
                "cell": serialization.serialize_keras_object(self.cell)}
