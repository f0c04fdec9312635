"""One step of SimpleRNN, LSTM and GRU, with Keras 3's weight names and layouts.

Each cell maps `(inputs_t, states)` to `(output_t, new_states)`. Weights: `kernel`
`(input_dim, gates * units)`, `recurrent_kernel` `(units, gates * units)` and `bias`
(`(gates * units,)`, or `(2, 3 * units)` for GRU with `reset_after`). Gate order as Keras:
LSTM i, f, c, o; GRU z, r, h.
"""
from graphkit import activations, constraints, initializers, ops, random, regularizers
from graphkit.layers.layer import Layer
from graphkit.layers.weight_options import weight_options_config


class _Cell(Layer):
    gates = 1

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        where = f"{type(self).__name__} '{self.name}'"
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise ValueError(f"{where}: `units` must be a positive integer. "
                             f"Received: units={units!r}")
        for arg, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"{where}: `{arg}` must be in [0, 1). "
                                 f"Received: {arg}={rate!r}")
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout, self.recurrent_dropout, self.seed = float(dropout), \
            float(recurrent_dropout), seed
        if self.dropout or self.recurrent_dropout:
            self.seed_generator = random.SeedGenerator(seed)

    @property
    def state_size(self):
        return self.units  # an int for one state, as Keras (LSTMCell lists two)

    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': the feature dimension "
                             f"must be known. Received: input_shape={tuple(input_shape)}")
        n = self.gates * self.units
        self.kernel = self.add_weight(
            name="kernel", shape=(input_dim, n), initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel", shape=(self.units, n),
            initializer=self.recurrent_initializer, regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=self._bias_shape(), initializer=self._bias_initializer(),
                regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    def dropout_masks(self, inputs_t, h_t, training):
        """Keras keeps one dropout mask for the whole sequence; None when not dropping."""
        def mask(like, rate):
            if not (training and rate):
                return None
            return random.dropout(ops.ones_like(like), rate, seed=self.seed_generator)
        return mask(inputs_t, self.dropout), mask(h_t, self.recurrent_dropout)

    @staticmethod
    def _apply(x, mask):
        return x if mask is None else ops.multiply(x, mask)

    def _input_bias(self):
        return self.bias

    def project_inputs(self, inputs, dropout_mask=None):
        """`inputs @ kernel + input bias`: the part of a step that does not read the state.

        `inputs` is one step `(batch, input_dim)` or a whole sequence `(batch, steps,
        input_dim)`. The RNN layers project the whole sequence with one matmul before the
        loop, so the unrolled steps hold only the recurrent matmul: half the matmuls, and
        one large GEMM instead of `steps` thin ones (faster, and quicker to compile)."""
        if inputs.ndim == 3:
            if dropout_mask is not None:  # one mask for every step, as Keras
                dropout_mask = ops.expand_dims(dropout_mask, 1)
            x = self._apply(inputs, dropout_mask)
            steps = inputs.shape[1]
            flat = ops.matmul(ops.reshape(x, (-1, inputs.shape[-1])), self.kernel)
            x = ops.reshape(flat, (-1, steps, flat.shape[-1]))
        else:
            x = ops.matmul(self._apply(inputs, dropout_mask), self.kernel)
        bias = self._input_bias()
        return x if bias is None else ops.add(x, bias)

    def call(self, inputs, states, dropout_masks=(None, None)):
        """One step from raw inputs: `step(project_inputs(inputs), states)`.

        As in Keras, a one-state cell also takes its state as a bare tensor (not a list) and
        then returns the new state bare; indexing the tensor would take its first row."""
        nested = isinstance(states, (list, tuple))
        if not nested and isinstance(self.state_size, list):
            raise ValueError(f"{type(self).__name__} '{self.name}': `states` must be a list of "
                             f"{len(self.state_size)} tensors. Received: a single tensor of "
                             f"shape {tuple(states.shape)}")
        output, new_states = self.step(self.project_inputs(inputs, dropout_masks[0]),
                                       list(states) if nested else [states], dropout_masks[1])
        return output, new_states if nested else new_states[0]

    def _split(self, z, n):
        return [z[..., i * self.units:(i + 1) * self.units] for i in range(n)]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units, "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            **weight_options_config(self, ("kernel", "recurrent", "bias")),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


class SimpleRNNCell(_Cell):
    """h_t = activation(x_t @ kernel + bias + h_{t-1} @ recurrent_kernel)."""

    def step(self, projected, states, recurrent_mask=None):
        h_prev = self._apply(states[0], recurrent_mask)
        h = self.activation(ops.add(projected, ops.matmul(h_prev, self.recurrent_kernel)))
        return h, [h]


class LSTMCell(_Cell):
    """Gates i, f, c, o; `unit_forget_bias` starts the forget-gate bias at one."""

    gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, unit_forget_bias=True, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_size(self):
        return [self.units, self.units]

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, units = self.bias_initializer, self.units

        def forget_gate_ones(shape, dtype=None):
            return ops.concatenate([base((units,), dtype=dtype), ops.ones((units,), dtype),
                                    base((2 * units,), dtype=dtype)])
        return forget_gate_ones

    def step(self, projected, states, recurrent_mask=None):
        h_prev, c_prev = states
        z = ops.add(projected,
                    ops.matmul(self._apply(h_prev, recurrent_mask), self.recurrent_kernel))
        zi, zf, zc, zo = self._split(z, 4)
        i, f, o = (self.recurrent_activation(g) for g in (zi, zf, zo))
        c = ops.add(ops.multiply(f, c_prev), ops.multiply(i, self.activation(zc)))
        h = ops.multiply(o, self.activation(c))
        return h, [h, c]

    def get_config(self):
        config = super().get_config()
        config["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        config["unit_forget_bias"] = self.unit_forget_bias
        return config


class GRUCell(_Cell):
    """Gates z (update), r (reset), h (candidate). With `reset_after` (Keras's default)
    the reset gate multiplies `h_{t-1} @ recurrent_kernel_h + recurrent_bias_h`, and the
    bias is `(2, 3 * units)`: input bias, then recurrent bias."""

    gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 use_bias=True, reset_after=True, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        n = 3 * self.units
        return (2, n) if self.reset_after else (n,)

    def _input_bias(self):
        if self.bias is None or not self.reset_after:
            return self.bias
        return self.bias[0]

    def step(self, projected, states, recurrent_mask=None):
        h_prev = states[0]
        recurrent_bias = self.bias[1] if self.bias is not None and self.reset_after else None
        xz, xr, xh = self._split(projected, 3)
        h_in = self._apply(h_prev, recurrent_mask)
        u = self.units
        if self.reset_after:
            rec = ops.matmul(h_in, self.recurrent_kernel)
            if recurrent_bias is not None:
                rec = ops.add(rec, recurrent_bias)
            rz, rr, rh = self._split(rec, 3)
            z = self.recurrent_activation(ops.add(xz, rz))
            r = self.recurrent_activation(ops.add(xr, rr))
            hh = self.activation(ops.add(xh, ops.multiply(r, rh)))
        else:
            rec_zr = ops.matmul(h_in, self.recurrent_kernel[:, :2 * u])
            rz, rr = self._split(rec_zr, 2)
            z = self.recurrent_activation(ops.add(xz, rz))
            r = self.recurrent_activation(ops.add(xr, rr))
            rh = ops.matmul(ops.multiply(r, h_in), self.recurrent_kernel[:, 2 * u:])
            hh = self.activation(ops.add(xh, rh))
        h = ops.add(ops.multiply(z, h_prev), ops.multiply(ops.subtract(1.0, z), hh))
        return h, [h]

    def get_config(self):
        config = super().get_config()
        config["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        config["reset_after"] = self.reset_after
        return config
