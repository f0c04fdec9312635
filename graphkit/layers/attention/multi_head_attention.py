"""`MultiHeadAttention` (Vaswani et al., 2017) with Keras 3's EinsumDense projections.

Sub-layers `query`, `key`, `value` project `(batch, steps, dim)` to `(batch, steps, heads,
key_dim)` (kernels `(dim, heads, key_dim)`, biases `(heads, key_dim)`); `attention_output`
maps `(batch, steps, heads, value_dim)` back with a `(heads, value_dim, out_dim)` kernel, so
`set_weights(keras_layer.get_weights())` works. Attention is over axis 1 (Keras's default
`attention_axes=None` for rank-3 inputs).
"""
import math

from graphkit import constraints, initializers, ops, random, regularizers
from graphkit.layers import keras_options
from graphkit.layers.activations.softmax import masked_logit
from graphkit.layers.core.einsum_dense import EinsumDense
from graphkit.layers.layer import Layer, get_keras_mask, set_keras_mask
from graphkit.layers.weight_options import weight_options_config


class AttentionHeads(Layer):
    """What MultiHeadAttention and GroupQueryAttention share: checking the inputs, building
    the four projections, and `call` (project, attend over the heads, project back). A
    subclass sets `_score_heads` (heads of the scores) and `_key_dim` (the query scaling
    dim) and may widen the projected keys and values (`_expand_key_value`)."""

    # The projections' activity regularizer: Keras's GroupQueryAttention gives each its
    # layer's; graphkit's MultiHeadAttention keeps it on the layer's output only.
    _projection_activity = False

    def _set_weight_options(self, dropout, use_bias, seed, kernel_initializer,
                            bias_initializer, kernel_regularizer, bias_regularizer,
                            kernel_constraint, bias_constraint):
        self.dropout, self.use_bias, self.seed = float(dropout), bool(use_bias), seed
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        if self.dropout:
            self.seed_generator = random.SeedGenerator(seed)
        self.supports_masking = True

    def _weight_options_config(self):
        return {
            **weight_options_config(self, ("kernel", "bias")),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "seed": self.seed, **keras_options.ATTENTION_VARIANTS,
        }

    def _dense(self, name, equation, output_shape, bias_axes):
        # Each sublayer gets its own copy of the initializers (as in Keras): an unseeded
        # initializer returns the same values on every call, so a shared one would give
        # the query, key and value kernels equal values.
        return EinsumDense(
            equation, output_shape=output_shape, bias_axes=bias_axes if self.use_bias else None,
            kernel_initializer=_clone(self.kernel_initializer),
            bias_initializer=_clone(self.bias_initializer),
            kernel_regularizer=self.kernel_regularizer, bias_regularizer=self.bias_regularizer,
            activity_regularizer=self.activity_regularizer if self._projection_activity
            else None,
            kernel_constraint=self.kernel_constraint, bias_constraint=self.bias_constraint,
            dtype=self.dtype_policy, name=name)

    def _check_ranks(self, query_shape, value_shape, key_shape):
        for arg, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(shape) != 3 or shape[-1] is None:
                raise ValueError(f"{type(self).__name__} '{self.name}': `{arg}` must have "
                                 f"shape (batch, steps, dim) with a known dim. Received: "
                                 f"{tuple(shape)}")
        self._check_key_and_value(value_shape, key_shape)

    def _check_key_and_value(self, value_shape, key_shape):
        """As Keras: keys and values pair up step by step (else einsum fails, unnamed)."""
        if not _same_dims(value_shape[:-1], key_shape[:-1]):
            raise ValueError(f"{type(self).__name__} '{self.name}': all dimensions of `value` "
                             f"and `key`, except the last one, must be equal. Received: "
                             f"value_shape={tuple(value_shape)}, key_shape={tuple(key_shape)}")

    def _build_projections(self, shapes):
        for layer, shape in zip((self._query_dense, self._key_dense, self._value_dense,
                                 self._output_dense), shapes):
            with layer._name_scope():
                layer.build(shape)
        self.built = True

    def _expand_key_value(self, k, v):
        return k, v

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
             attention_mask=None, return_attention_scores=False, training=None,
             use_causal_mask=False):
        key = value if key is None else key
        self._check_key_and_value(value.shape, key.shape)
        mask = combined_mask(query, value, query_mask, value_mask, key_mask, attention_mask,
                             use_causal_mask)
        q = ops.multiply(_unmasked_call(self._query_dense, query),
                         1.0 / math.sqrt(self._key_dim))
        k, v = self._expand_key_value(_unmasked_call(self._key_dense, key),
                                      _unmasked_call(self._value_dense, value))
        context, scores = attend(q, k, v, mask, self.dropout if training else 0.0,
                                 getattr(self, "seed_generator", None))
        output = self._output_dense(context)
        if return_attention_scores:
            return output, scores
        return output

    def compute_mask(self, query, previous_mask):
        return previous_mask  # the query's mask, which Keras 3 puts on the output

    def compute_output_spec(self, query, value, key=None, return_attention_scores=False,
                            **kwargs):
        output = super().compute_output_spec(query, value, key=key, **kwargs)
        if not return_attention_scores:
            return output
        from graphkit.core.keras_tensor import KerasTensor
        t_k = (value if key is None else key).shape[1]
        scores = KerasTensor((query.shape[0], self._score_heads, query.shape[1], t_k),
                             self.compute_dtype)
        return output, scores


class MultiHeadAttention(AttentionHeads):
    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, attention_axes=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 seed=None, **kwargs):
        keras_options.take_default_options("MultiHeadAttention", kwargs,
                                           keras_options.ATTENTION_VARIANTS)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        where = f"MultiHeadAttention '{self.name}'"
        for arg, value in (("num_heads", num_heads), ("key_dim", key_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{where}: `{arg}` must be a positive integer. "
                                 f"Received: {arg}={value!r}")
        if attention_axes not in (None, 1, (1,), [1]):
            raise ValueError(f"{where}: only attention over the steps axis is supported "
                             f"(attention_axes=None). Received: attention_axes="
                             f"{attention_axes!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{where}: `dropout` must be in [0, 1). Received: {dropout!r}")
        self.num_heads, self.key_dim = num_heads, key_dim
        self.value_dim = key_dim if value_dim is None else value_dim
        if isinstance(output_shape, (tuple, list)):
            output_shape = tuple(output_shape)
        self._output_shape = output_shape
        self.attention_axes = attention_axes
        self._set_weight_options(dropout, use_bias, seed, kernel_initializer, bias_initializer,
                                 kernel_regularizer, bias_regularizer, kernel_constraint,
                                 bias_constraint)

    def _out_dims(self, query_dim):
        if self._output_shape is None:
            return (query_dim,)
        return self._output_shape if isinstance(self._output_shape, tuple) \
            else (self._output_shape,)

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        self._check_ranks(query_shape, value_shape, key_shape)
        h = self.num_heads
        self._query_dense = self._dense("query", "abc,cde->abde", (None, h, self.key_dim),
                                        "de")
        self._key_dense = self._dense("key", "abc,cde->abde", (None, h, self.key_dim), "de")
        self._value_dense = self._dense("value", "abc,cde->abde", (None, h, self.value_dim),
                                        "de")
        out_dims = self._out_dims(query_shape[-1])
        letters = "efgh"[:len(out_dims)]
        self._output_dense = self._dense("attention_output", f"abcd,cd{letters}->ab{letters}",
                                         (None,) + out_dims, letters)
        self._build_projections((query_shape, key_shape, value_shape,
                                 (*query_shape[:2], h, self.value_dim)))

    @property
    def _score_heads(self):
        return self.num_heads

    @property
    def _key_dim(self):
        return self.key_dim

    def compute_output_shape(self, query_shape, value_shape, key_shape=None):
        return (*tuple(query_shape)[:-1], *self._out_dims(query_shape[-1]))

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads, "key_dim": self.key_dim, "value_dim": self.value_dim,
            "dropout": self.dropout, "use_bias": self.use_bias,
            "output_shape": self._output_shape, "attention_axes": self.attention_axes,
            **self._weight_options_config(),
        }


def combined_mask(query, value, query_mask, value_mask, key_mask, attention_mask,
                  use_causal_mask):
    """(batch, T_q, T_k) bool, or None: the padding masks, the causal mask and the
    explicit `attention_mask` combined with AND, as Keras does."""
    mask = None

    def both(a, b):
        return b if a is None else ops.logical_and(a, b)

    if query_mask is not None:
        mask = ops.expand_dims(ops.cast(query_mask, "bool"), -1)
    if value_mask is not None:
        mask = both(mask, ops.expand_dims(ops.cast(value_mask, "bool"), -2))
    if key_mask is not None:
        mask = both(mask, ops.expand_dims(ops.cast(key_mask, "bool"), -2))
    if use_causal_mask:
        t_q, t_k = query.shape[1], value.shape[1]
        rows = ops.expand_dims(ops.arange(t_q), -1)
        cols = ops.expand_dims(ops.arange(t_k), 0)
        mask = both(mask, ops.expand_dims(ops.greater_equal(rows, cols), 0))
    if attention_mask is not None:
        mask = both(mask, ops.cast(attention_mask, "bool"))
    return mask


def attend(q, k, v, mask, dropout_rate, seed_generator):
    """Softmax attention of scaled queries `q` (batch, T_q, heads, d) over keys `k` and
    values `v` (batch, T_k, heads, d): `(context (batch, T_q, heads, d_v), scores (batch,
    heads, T_q, T_k))`. The scores are returned before dropout, as Keras does."""
    logits = ops.einsum("aecd,abcd->acbe", k, q)  # (batch, heads, T_q, T_k)
    if mask is not None:
        # As Keras: a mask of lower rank gains axes before (T_q, T_k), the heads axis
        # for (batch, T_q, T_k), the batch axis too for a (T_q, T_k) mask.
        keep = mask
        for _ in range(len(logits.shape) - len(mask.shape)):
            keep = ops.expand_dims(keep, -3)
        masked = ops.full_like(logits, masked_logit(logits.dtype))
        logits = ops.where(keep, logits, masked)
    scores = ops.softmax(logits, axis=-1)
    dropped = scores
    if dropout_rate:
        dropped = random.dropout(scores, dropout_rate, seed=seed_generator)
    context = ops.einsum("acbe,aecd->abcd", dropped, v)  # (batch, T_q, heads, value_dim)
    return context, scores


def _same_dims(a, b):
    """Equal shapes, an unknown (None) dim matching any size."""
    return all(x is None or y is None or x == y for x, y in zip(a, b))


def _unmasked_call(layer, x):
    """`layer(x)` without x's mask, which the attention mask already accounts for (the
    projections do not support masking and would warn that they drop it); x keeps its mask."""
    mask = get_keras_mask(x)
    if mask is None:
        return layer(x)
    set_keras_mask(x, None)
    try:
        return layer(x)
    finally:
        set_keras_mask(x, mask)


def _clone(initializer):
    """A new instance from the initializer's config (plain callables are kept as they are)."""
    return initializer.clone() if isinstance(initializer, initializers.Initializer) \
        else initializer
