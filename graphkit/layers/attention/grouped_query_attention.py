"""`GroupQueryAttention` (Ainslie et al., 2023): attention whose `num_query_heads` query
heads share `num_key_value_heads` key/value heads, each key/value head repeated for its
group of query heads. One key/value head is multi-query attention; as many as query heads
is multi-head attention.

Sub-layers, weights and their order are Keras 3's (`query`, `key`, `value`,
`attention_output`, each an EinsumDense with kernel then bias), so
`set_weights(keras_layer.get_weights())` works. The attention itself (masks, softmax,
dropout) is MultiHeadAttention's.
"""
from graphkit import naming, ops
from graphkit.layers import keras_options
from graphkit.layers.attention.multi_head_attention import AttentionHeads


class GroupQueryAttention(AttentionHeads):
    _projection_activity = True  # as Keras: each projection has the layer's too

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
        self._set_weight_options(dropout, use_bias, seed, kernel_initializer, bias_initializer,
                                 kernel_regularizer, bias_regularizer, kernel_constraint,
                                 bias_constraint)

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

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        self._check_ranks(query_shape, value_shape, key_shape)
        q_heads, kv_heads, d = self.num_query_heads, self.num_key_value_heads, self.head_dim
        self._query_dense = self._dense("query", "bqm,muh->bquh", (None, q_heads, d), "uh")
        self._key_dense = self._dense("key", "bkm,mvh->bkvh", (None, kv_heads, d), "vh")
        self._value_dense = self._dense("value", "bkm,mvh->bkvh", (None, kv_heads, d), "vh")
        self._output_dense = self._dense("attention_output", "bquh,uhm->bqm",
                                         (None, query_shape[-1]), "m")
        self._build_projections((query_shape, key_shape, value_shape,
                                 (None, None, q_heads, d)))

    @property
    def _score_heads(self):
        return self.num_query_heads

    @property
    def _key_dim(self):
        return self.head_dim

    def _expand_key_value(self, k, v):
        # Each key/value head serves `num_repeats` consecutive query heads (Keras's order).
        return (ops.repeat(k, self.num_repeats, axis=2), ops.repeat(v, self.num_repeats, axis=2))

    def compute_output_shape(self, query_shape, value_shape, key_shape=None):
        return tuple(query_shape)

    def get_config(self):
        # Keras's config has no `flash_attention` (a runtime choice, not a weight layout).
        return {
            **super().get_config(),
            "head_dim": self.head_dim, "num_query_heads": self.num_query_heads,
            "num_key_value_heads": self.num_key_value_heads, "use_bias": self.use_bias,
            "dropout": self.dropout,
            **self._weight_options_config(),
        }
