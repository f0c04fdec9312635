"""`GroupQueryAttention` (Ainslie et al., 2023): attention whose `num_query_heads` query
heads share `num_key_value_heads` key/value heads, each key/value head repeated for its
group of query heads. One key/value head is multi-query attention; as many as query heads
is multi-head attention.

Sub-layers, weights and their order are Keras 3's (`query`, `key`, `value`,
`attention_output`, each an EinsumDense with kernel then bias), so
`set_weights(keras_layer.get_weights())` works. The attention itself (masks, softmax,
dropout) is MultiHeadAttention's.
"""
import math

from graphkit import constraints, initializers, naming, ops, random, regularizers
from graphkit.layers import keras_options
from graphkit.layers.attention.multi_head_attention import (_clone, _same_dims,
                                                            _unmasked_call, attend,
                                                            combined_mask)
from graphkit.layers.core.einsum_dense import EinsumDense
from graphkit.layers.layer import Layer


class GroupQueryAttention(Layer):
    def __init__(self, head_dim, num_query_heads, num_key_value_heads, dropout=0.0,
                 use_bias=True, flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 seed=None, **kwargs):
        keras_options.take_default_options("GroupQueryAttention", kwargs,
                                           keras_options.ATTENTION_VARIANTS)
        # Keras's class is GroupedQueryAttention (exported as GroupQueryAttention), so its
        # automatic names are "grouped_query_attention".
        if kwargs.get("name") is None:
            kwargs["name"] = naming.auto_name("GroupedQueryAttention")
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self._check_arguments(head_dim, num_query_heads, num_key_value_heads, dropout,
                              flash_attention)
        self.head_dim, self.num_query_heads = head_dim, num_query_heads
        self.num_key_value_heads = num_key_value_heads
        self.num_repeats = num_query_heads // num_key_value_heads
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

    def _check_arguments(self, head_dim, num_query_heads, num_key_value_heads, dropout,
                         flash_attention):
        where = f"GroupQueryAttention '{self.name}'"
        for arg, value in (("head_dim", head_dim), ("num_query_heads", num_query_heads),
                           ("num_key_value_heads", num_key_value_heads)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{where}: `{arg}` must be a positive integer. "
                                 f"Received: {arg}={value!r}")
        if num_query_heads % num_key_value_heads:
            raise ValueError(f"{where}: `num_query_heads` must be divisible by "
                             f"`num_key_value_heads`. Received: num_query_heads="
                             f"{num_query_heads}, num_key_value_heads={num_key_value_heads}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{where}: `dropout` must be in [0, 1). Received: {dropout!r}")
        # Flash attention is a fused kernel of the same math, which graphkit does not
        # have: only "let the backend decide" (None) or "off" (False) can be honoured.
        if flash_attention not in (None, False):
            raise ValueError(f"{where}: `flash_attention` is not supported by graphkit; "
                             f"only None or False is accepted. Received: "
                             f"flash_attention={flash_attention!r}")

    def _dense(self, name, equation, output_shape, bias_axes):
        # As Keras: every sublayer gets its own initializer copies (an unseeded initializer
        # repeats its values) and the layer's activity regularizer too.
        return EinsumDense(
            equation, output_shape=output_shape, bias_axes=bias_axes if self.use_bias else None,
            kernel_initializer=_clone(self.kernel_initializer),
            bias_initializer=_clone(self.bias_initializer),
            kernel_regularizer=self.kernel_regularizer, bias_regularizer=self.bias_regularizer,
            activity_regularizer=self.activity_regularizer,
            kernel_constraint=self.kernel_constraint, bias_constraint=self.bias_constraint,
            dtype=self.dtype_policy, name=name)

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        for arg, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(shape) != 3 or shape[-1] is None:
                raise ValueError(f"GroupQueryAttention '{self.name}': `{arg}` must have shape "
                                 f"(batch, steps, dim) with a known dim. Received: "
                                 f"{tuple(shape)}")
        self._check_key_and_value(value_shape, key_shape)
        q_heads, kv_heads, d = self.num_query_heads, self.num_key_value_heads, self.head_dim
        self._query_dense = self._dense("query", "bqm,muh->bquh", (None, q_heads, d), "uh")
        self._key_dense = self._dense("key", "bkm,mvh->bkvh", (None, kv_heads, d), "vh")
        self._value_dense = self._dense("value", "bkm,mvh->bkvh", (None, kv_heads, d), "vh")
        self._output_dense = self._dense("attention_output", "bquh,uhm->bqm",
                                         (None, query_shape[-1]), "m")
        for layer, shape in ((self._query_dense, query_shape), (self._key_dense, key_shape),
                             (self._value_dense, value_shape),
                             (self._output_dense, (None, None, q_heads, d))):
            with layer._name_scope():
                layer.build(shape)
        self.built = True

    def _check_key_and_value(self, value_shape, key_shape):
        if not _same_dims(value_shape[:-1], key_shape[:-1]):
            raise ValueError(f"GroupQueryAttention '{self.name}': all dimensions of `value` "
                             f"and `key`, except the last one, must be equal. Received: "
                             f"value_shape={tuple(value_shape)}, key_shape={tuple(key_shape)}")

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
             attention_mask=None, return_attention_scores=False, training=None,
             use_causal_mask=False):
        key = value if key is None else key
        self._check_key_and_value(value.shape, key.shape)
        mask = combined_mask(query, value, query_mask, value_mask, key_mask, attention_mask,
                             use_causal_mask)
        q = ops.multiply(_unmasked_call(self._query_dense, query),
                         1.0 / math.sqrt(self.head_dim))
        # Each key/value head serves `num_repeats` consecutive query heads (Keras's order).
        k = ops.repeat(_unmasked_call(self._key_dense, key), self.num_repeats, axis=2)
        v = ops.repeat(_unmasked_call(self._value_dense, value), self.num_repeats, axis=2)
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
        scores = KerasTensor((query.shape[0], self.num_query_heads, query.shape[1], t_k),
                             self.compute_dtype)
        return output, scores

    def compute_output_shape(self, query_shape, value_shape, key_shape=None):
        return tuple(query_shape)

    def get_config(self):
        # Keras's config has no `flash_attention` (a runtime choice, not a weight layout).
        return {
            **super().get_config(),
            "head_dim": self.head_dim, "num_query_heads": self.num_query_heads,
            "num_key_value_heads": self.num_key_value_heads, "use_bias": self.use_bias,
            "dropout": self.dropout,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "seed": self.seed, **keras_options.ATTENTION_VARIANTS,
        }
